#include "clients/device_sim/request_ledger.h"

#include <algorithm>

namespace hive::sim {

void RequestLedger::Record(absl::string_view device_id, absl::string_view request_id, absl::Time received) {
  absl::MutexLock lock(&mutex_);
  Seen& seen = devices_[device_id];
  if (!seen.ids.insert(std::string(request_id)).second) {
    ++totals_.duplicates;
  } else {
    seen.order.emplace_back(request_id);
    if (seen.order.size() > kIdsPerDevice) {
      seen.ids.erase(seen.order.front());
      seen.order.pop_front();
    }
  }
  // I/O threads may record slightly out of order; a time before the
  // window's newest joins the window as if it had come with it.
  const absl::Time at = window_.empty() ? received : std::max(received, window_.back());
  window_.push_back(at);
  while (window_.front() <= at - absl::Seconds(1)) window_.pop_front();
  totals_.busiest_second = std::max(totals_.busiest_second, static_cast<int64_t>(window_.size()));
}

RequestLedger::Totals RequestLedger::Read() const {
  absl::MutexLock lock(&mutex_);
  return totals_;
}

}  // namespace hive::sim

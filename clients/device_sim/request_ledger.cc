#include "clients/device_sim/request_ledger.h"

#include <algorithm>

namespace hive::sim {

void RequestLedger::PaceWindow::Add(absl::Time at) {
  times.push_back(at);
  while (times.front() <= at - width) times.pop_front();
  busiest = std::max(busiest, static_cast<int64_t>(times.size()));
}

void RequestLedger::Record(absl::string_view device_id, absl::string_view request_id, absl::Time received) {
  absl::MutexLock lock(&mutex_);
  Seen& seen = devices_[device_id];
  if (!seen.ids.insert(std::string(request_id)).second) {
    ++duplicates_;
  } else {
    seen.order.emplace_back(request_id);
    if (seen.order.size() > kIdsPerDevice) {
      seen.ids.erase(seen.order.front());
      seen.order.pop_front();
    }
  }
  // I/O threads may record slightly out of order; a time before the newest
  // counts as if it had come with it.
  if (first_ == absl::InfinitePast()) first_ = received;
  last_ = std::max(received, last_);
  second_.Add(last_);
  five_seconds_.Add(last_);
}

RequestLedger::Totals RequestLedger::Read() const {
  absl::MutexLock lock(&mutex_);
  Totals totals;
  totals.duplicates = duplicates_;
  totals.busiest_second = second_.busiest;
  totals.busiest_five_seconds = five_seconds_.busiest;
  if (first_ != absl::InfinitePast()) totals.span = last_ - first_;
  return totals;
}

}  // namespace hive::sim

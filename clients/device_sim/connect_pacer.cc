#include "clients/device_sim/connect_pacer.h"

#include <algorithm>

namespace hive::sim {

ConnectPacer::ConnectPacer(double per_second, absl::Time start)
    : per_second_(per_second), burst_(std::max(1.0, per_second / 20)), last_(start) {}

size_t ConnectPacer::Take(absl::Time now, size_t wanted) {
  if (now > last_) {
    tokens_ = std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * per_second_);
    last_ = now;
  }
  const size_t granted = std::min(wanted, static_cast<size_t>(tokens_));
  tokens_ -= static_cast<double>(granted);
  return granted;
}

}  // namespace hive::sim

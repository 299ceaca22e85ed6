#include "clients/device_sim/reconnect_backoff.h"

#include <algorithm>

namespace hive::sim {

absl::Duration ReconnectDelay(int failures, double unit) {
  // 2^9 × 100 ms already exceeds 30 s; stopping there keeps the shift small.
  const int doublings = std::clamp(failures, 0, 9);
  const absl::Duration ceiling = std::min(kFirstReconnectDelay * (1 << doublings), kMaxReconnectDelay);
  return ceiling / 2 + ceiling / 2 * std::clamp(unit, 0.0, 1.0);
}

}  // namespace hive::sim

// clients/device_sim/reconnect_backoff.h
// How long a device waits before reconnecting: 100 ms after the first
// failure, doubling with each further failure in a row, at most 30 s, and
// drawn uniformly from the upper half of that, so that devices dropped
// together (a bridge restart) do not all come back in the same instant.
// A connection that authenticates resets the count.
//
//   absl::Duration wait = ReconnectDelay(failures_in_a_row, uniform_0_1(random));
#pragma once

#include "absl/time/time.h"

namespace hive::sim {

inline constexpr absl::Duration kFirstReconnectDelay = absl::Milliseconds(100);
inline constexpr absl::Duration kMaxReconnectDelay = absl::Seconds(30);

// `failures` counts failed or closed connections since the last
// authentication (0 for the first); `unit` is a uniform draw from [0, 1).
absl::Duration ReconnectDelay(int failures, double unit);

}  // namespace hive::sim

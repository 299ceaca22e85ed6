// clients/device_sim/connect_pacer.h
// Keeps new connections to --connect-rate with a token bucket: the rate
// accrues continuously and at most a short burst (50 ms worth, at least one)
// is saved up, so a late timer tick catches up without a stampede.
//
//   ConnectPacer pacer(500, clock.Now());
//   for (int n = pacer.Take(clock.Now(), waiting.size()); n > 0; --n) Connect(waiting.pop());
#pragma once

#include <cstddef>

#include "absl/time/time.h"

namespace hive::sim {

class ConnectPacer {
 public:
  ConnectPacer(double per_second, absl::Time start);

  // How many of `wanted` connections may start at `now`; those are spent.
  size_t Take(absl::Time now, size_t wanted);

 private:
  double per_second_;
  double burst_;
  double tokens_ = 1.0;
  absl::Time last_;
};

}  // namespace hive::sim

// clients/loadgen/latency_histogram.h
// Latencies recorded from many threads at once without a lock: a log-linear
// histogram of nanoseconds (exact below 64 ns, then 64 buckets per power of
// two, so a percentile is within 1.6 % of the true value). A run reads a
// snapshot when its measured window opens and another when it closes; their
// difference holds only the window's samples.
//
//   LatencyHistogram latencies;
//   latencies.Record(absl::Now() - sent);                  // any thread
//   LatencySnapshot window = latencies.Read() - at_start;
//   absl::Duration p99 = window.Percentile(0.99);
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/time/time.h"

namespace hive::loadgen {

inline constexpr size_t kSubBuckets = 64;
inline constexpr size_t kLatencyBuckets = kSubBuckets + 41 * kSubBuckets;  // up to 2^47 ns (39 hours)

struct LatencySnapshot {
  std::vector<uint64_t> counts = std::vector<uint64_t>(kLatencyBuckets, 0);

  uint64_t total() const;
  // The smallest recorded latency with at least `quantile` of the samples at
  // or below it (the bucket's midpoint); zero when there are none.
  absl::Duration Percentile(double quantile) const;
  absl::Duration Max() const { return Percentile(1.0); }

  LatencySnapshot operator-(const LatencySnapshot& earlier) const;
};

class LatencyHistogram {
 public:
  void Record(absl::Duration latency);
  LatencySnapshot Read() const;

 private:
  std::array<std::atomic<uint64_t>, kLatencyBuckets> counts_{};
};

}  // namespace hive::loadgen

#include "clients/loadgen/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace hive::loadgen {
namespace {

constexpr int kSubBits = 6;  // log2(kSubBuckets)

size_t BucketOf(uint64_t nanos) {
  if (nanos < kSubBuckets) return nanos;
  const int exponent = 63 - __builtin_clzll(nanos);  // >= kSubBits
  const size_t sub = (nanos >> (exponent - kSubBits)) - kSubBuckets;
  return std::min(kLatencyBuckets - 1, kSubBuckets + (exponent - kSubBits) * kSubBuckets + sub);
}

uint64_t MidpointOf(size_t bucket) {
  if (bucket < kSubBuckets) return bucket;
  const int shift = static_cast<int>(bucket / kSubBuckets) - 1;
  const uint64_t lower = (kSubBuckets + bucket % kSubBuckets) << shift;
  return lower + (uint64_t{1} << shift) / 2;
}

}  // namespace

void LatencyHistogram::Record(absl::Duration latency) {
  const int64_t nanos = std::max<int64_t>(0, absl::ToInt64Nanoseconds(latency));
  counts_[BucketOf(static_cast<uint64_t>(nanos))].fetch_add(1, std::memory_order_relaxed);
}

LatencySnapshot LatencyHistogram::Read() const {
  LatencySnapshot snapshot;
  for (size_t i = 0; i < kLatencyBuckets; ++i) snapshot.counts[i] = counts_[i].load(std::memory_order_relaxed);
  return snapshot;
}

uint64_t LatencySnapshot::total() const {
  uint64_t sum = 0;
  for (uint64_t count : counts) sum += count;
  return sum;
}

absl::Duration LatencySnapshot::Percentile(double quantile) const {
  const uint64_t all = total();
  if (all == 0) return absl::ZeroDuration();
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(quantile * static_cast<double>(all))));
  uint64_t seen = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    seen += counts[i];
    if (seen >= rank) return absl::Nanoseconds(MidpointOf(i));
  }
  return absl::Nanoseconds(MidpointOf(counts.size() - 1));
}

LatencySnapshot LatencySnapshot::operator-(const LatencySnapshot& earlier) const {
  LatencySnapshot difference;
  for (size_t i = 0; i < counts.size(); ++i) difference.counts[i] = counts[i] - earlier.counts[i];
  return difference;
}

}  // namespace hive::loadgen

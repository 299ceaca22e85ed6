#include "bridge/token_bucket.h"

#include <algorithm>

namespace hive {

TokenBucket::TokenBucket(double rate_per_second, double burst, absl::Time now)
    : rate_per_second_(rate_per_second), burst_(burst), tokens_(burst), refilled_at_(now) {}

void TokenBucket::Refill(absl::Time now) {
  if (now <= refilled_at_) return;
  tokens_ = std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - refilled_at_) * rate_per_second_);
  refilled_at_ = now;
}

bool TokenBucket::TryTake(absl::Time now) {
  Refill(now);
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

double TokenBucket::tokens(absl::Time now) {
  Refill(now);
  return tokens_;
}

}  // namespace hive

// bridge/token_bucket.h
// A token bucket: it holds at most `burst` tokens, gains `rate` tokens per
// second, and each admitted unit takes one. So a sender may go `burst` units
// over the rate at once, and `rate` per second on average. Pure arithmetic on
// the times it is given (no clock of its own), so tests need no sleeps; a time
// earlier than one seen before adds nothing (the wall clock may step back).
//
//   TokenBucket bucket(/*rate_per_second=*/100, /*burst=*/1000, clock.Now());  // starts full
//   if (!bucket.TryTake(clock.Now())) ReplyError("over the rate");
//
// Not thread-safe: it has one owner (a device session, on its I/O thread).
#pragma once

#include "absl/time/time.h"

namespace hive {

class TokenBucket {
 public:
  // `rate_per_second` > 0 and `burst` >= 1.
  TokenBucket(double rate_per_second, double burst, absl::Time now);

  // Takes one token if there is one at `now`.
  bool TryTake(absl::Time now);

  // The tokens there are at `now` (a fraction while one is refilling).
  double tokens(absl::Time now);

 private:
  void Refill(absl::Time now);

  const double rate_per_second_;
  const double burst_;
  double tokens_;
  absl::Time refilled_at_;
};

}  // namespace hive

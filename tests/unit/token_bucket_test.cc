#include "bridge/token_bucket.h"

#include "gtest/gtest.h"

namespace hive {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

TEST(TokenBucket, StartsFullAndAdmitsTheBurstAtOnce) {
  TokenBucket bucket(/*rate_per_second=*/10, /*burst=*/3, kStart);
  EXPECT_TRUE(bucket.TryTake(kStart));
  EXPECT_TRUE(bucket.TryTake(kStart));
  EXPECT_TRUE(bucket.TryTake(kStart));
  EXPECT_FALSE(bucket.TryTake(kStart));
}

TEST(TokenBucket, RefillsAtTheRate) {
  TokenBucket bucket(10, 3, kStart);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(bucket.TryTake(kStart));
  EXPECT_FALSE(bucket.TryTake(kStart + absl::Milliseconds(99)));  // 0.99 tokens
  EXPECT_TRUE(bucket.TryTake(kStart + absl::Milliseconds(101)));
  EXPECT_FALSE(bucket.TryTake(kStart + absl::Milliseconds(101)));
  EXPECT_NEAR(bucket.tokens(kStart + absl::Milliseconds(151)), 0.51, 1e-9);
}

TEST(TokenBucket, NeverHoldsMoreThanTheBurst) {
  TokenBucket bucket(10, 3, kStart);
  ASSERT_TRUE(bucket.TryTake(kStart));
  EXPECT_DOUBLE_EQ(bucket.tokens(kStart + absl::Hours(1)), 3);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.TryTake(kStart + absl::Hours(1)));
  EXPECT_FALSE(bucket.TryTake(kStart + absl::Hours(1)));
}

TEST(TokenBucket, SustainedSendingGetsTheRateOnAverage) {
  TokenBucket bucket(100, 10, kStart);
  int admitted = 0;
  // 1000 tries a second for 10 s: the burst, then 100 a second.
  for (int ms = 0; ms < 10'000; ++ms) admitted += bucket.TryTake(kStart + absl::Milliseconds(ms)) ? 1 : 0;
  EXPECT_GE(admitted, 10 + 999);
  EXPECT_LE(admitted, 10 + 1000);
}

TEST(TokenBucket, ATimeBeforeTheLastAddsNothing) {
  TokenBucket bucket(10, 2, kStart);
  ASSERT_TRUE(bucket.TryTake(kStart + absl::Seconds(5)));
  ASSERT_TRUE(bucket.TryTake(kStart + absl::Seconds(5)));
  EXPECT_FALSE(bucket.TryTake(kStart));  // the wall clock stepped back
  EXPECT_DOUBLE_EQ(bucket.tokens(kStart + absl::Seconds(5)), 0);
  EXPECT_TRUE(bucket.TryTake(kStart + absl::Seconds(5) + absl::Milliseconds(150)));
}

}  // namespace
}  // namespace hive

#include "server/call_deadline.h"

#include "gtest/gtest.h"

namespace hive::server {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

TEST(WaitDeadline, EndsATwentiethOfTheBudgetBeforeTheCallsDeadline) {
  EXPECT_EQ(WaitDeadline(kNow, kNow + absl::Milliseconds(200)), kNow + absl::Milliseconds(190));
}

TEST(WaitDeadline, KeepsAtMostFiftyMillisecondsForTheAnswer) {
  EXPECT_EQ(WaitDeadline(kNow, kNow + absl::Seconds(10)), kNow + absl::Seconds(10) - absl::Milliseconds(50));
}

TEST(WaitDeadline, IsNeverAfterTheCallsDeadline) {
  for (absl::Duration left : {absl::ZeroDuration(), absl::Nanoseconds(1), absl::Microseconds(19), -absl::Nanoseconds(1),
                              -absl::Milliseconds(40), -absl::Seconds(30), -absl::Hours(1)}) {
    const absl::Time call = kNow + left;
    const absl::Time wait = WaitDeadline(kNow, call);
    EXPECT_LE(wait, call) << left;
  }
}

TEST(WaitDeadline, IsTheCallsDeadlineWhenThatHasPassed) {
  EXPECT_EQ(WaitDeadline(kNow, kNow - absl::Seconds(3)), kNow - absl::Seconds(3));
  EXPECT_EQ(WaitDeadline(kNow, kNow), kNow);
}

}  // namespace
}  // namespace hive::server

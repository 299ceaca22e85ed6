#include "bridge/log_rate_limiter.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/unit/support/fake_clock.h"

namespace hive {
namespace {

using hive::testing::FakeClock;

LogRateLimiter::Options ThreePerMinute(size_t max_keys = 16) {
  return {.lines_per_interval = 3, .interval = absl::Minutes(1), .max_keys = max_keys};
}

TEST(LogRateLimiter, WritesUpToTheLimitPerIntervalThenCountsTheRest) {
  FakeClock clock;
  LogRateLimiter limiter(ThreePerMinute());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Admit("10.0.0.1", clock.Now()).write) << i;
  for (int i = 0; i < 7; ++i) {
    clock.Advance(absl::Seconds(5));
    EXPECT_FALSE(limiter.Admit("10.0.0.1", clock.Now()).write) << i;
  }
}

TEST(LogRateLimiter, TheNextLineAfterTheIntervalCarriesTheSuppressedCount) {
  FakeClock clock;
  LogRateLimiter limiter(ThreePerMinute());
  for (int i = 0; i < 10; ++i) limiter.Admit("10.0.0.1", clock.Now());
  clock.Advance(absl::Seconds(59));
  EXPECT_FALSE(limiter.Admit("10.0.0.1", clock.Now()).write);  // still the first interval: 8 suppressed
  clock.Advance(absl::Seconds(1));
  LogRateLimiter::Verdict verdict = limiter.Admit("10.0.0.1", clock.Now());
  EXPECT_TRUE(verdict.write);
  EXPECT_EQ(verdict.suppressed_before, 8u);
  // Reported once: the new interval starts clean.
  EXPECT_EQ(limiter.Admit("10.0.0.1", clock.Now()).suppressed_before, 0u);
}

TEST(LogRateLimiter, KeysAreLimitedSeparately) {
  FakeClock clock;
  LogRateLimiter limiter(ThreePerMinute());
  for (int i = 0; i < 5; ++i) limiter.Admit("10.0.0.1", clock.Now());
  EXPECT_TRUE(limiter.Admit("10.0.0.2", clock.Now()).write);
  EXPECT_FALSE(limiter.Admit("10.0.0.1", clock.Now()).write);
}

TEST(LogRateLimiter, RemembersAtMostMaxKeysForgettingTheLeastRecentlySeen) {
  FakeClock clock;
  LogRateLimiter limiter(ThreePerMinute(/*max_keys=*/2));
  for (int i = 0; i < 5; ++i) limiter.Admit("a", clock.Now());  // 2 suppressed
  limiter.Admit("b", clock.Now());
  limiter.Admit("a", clock.Now());  // a is now the most recent: 3 suppressed
  // c makes room by forgetting b (least recently seen), which owes nothing.
  LogRateLimiter::Verdict c = limiter.Admit("c", clock.Now());
  EXPECT_TRUE(c.write);
  EXPECT_TRUE(c.evicted_key.empty());
  EXPECT_EQ(limiter.size(), 2u);
  // d forgets a, whose suppressed lines are owed a summary, not dropped.
  LogRateLimiter::Verdict d = limiter.Admit("d", clock.Now());
  EXPECT_EQ(d.evicted_key, "a");
  EXPECT_EQ(d.evicted_suppressed, 3u);
  EXPECT_EQ(limiter.size(), 2u);
  for (int i = 0; i < 1000; ++i) limiter.Admit(absl::StrCat("10.1.", i / 256, ".", i % 256), clock.Now());
  EXPECT_EQ(limiter.size(), 2u);
}

TEST(LogRateLimiter, LogWritesTheSummaryLineBeforeTheNextLine) {
  FakeClock clock;
  LogRateLimiter limiter(ThreePerMinute());
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 5; ++i) {
    limiter.Log("10.0.0.1", clock.Now(), LogLevel::kInfo, "device_auth_failed", {{"address", "10.0.0.1:4000"}});
  }
  clock.Advance(absl::Minutes(1));
  limiter.Log("10.0.0.1", clock.Now(), LogLevel::kInfo, "device_auth_failed", {{"address", "10.0.0.1:4001"}});
  const std::string out = ::testing::internal::GetCapturedStderr();
  int lines = 0;
  for (char c : out) lines += c == '\n';
  EXPECT_EQ(lines, 5) << out;  // 3 lines, the summary, the next line
  const size_t summary = out.find("event=log_suppressed");
  ASSERT_NE(summary, std::string::npos) << out;
  EXPECT_TRUE(absl::StrContains(out,
                                "suppressed_event=device_auth_failed key=10.0.0.1 suppressed=2 "
                                "message=\"suppressed 2 similar lines\""))
      << out;
  EXPECT_LT(summary, out.find("10.0.0.1:4001")) << out;
}

TEST(IpOfAddress, TakesTheHostPartOfAnAddress) {
  EXPECT_EQ(IpOfAddress("203.0.113.7:51234"), "203.0.113.7");
  EXPECT_EQ(IpOfAddress("[2001:db8::1]:443"), "2001:db8::1");
  EXPECT_EQ(IpOfAddress("2001:db8::1"), "2001:db8::1");
  EXPECT_EQ(IpOfAddress("203.0.113.7"), "203.0.113.7");
  EXPECT_EQ(IpOfAddress(""), "");
}

}  // namespace
}  // namespace hive

// Token lifetime end to end (docs/protocol.md §2, "Token lifetime and
// refresh"): a connection closes with 4401 "token expired" at its token's exp
// (the bridge runs with --token-leeway=0s), and a device that sends a new
// token before then is answered `authenticated` and stays past the first exp.
// Time is read from the bridge's own behaviour, never slept away: a canary
// device whose token expires with the first one shows when the bridge's clock
// has passed it.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/unit/support/test_tokens.h"

namespace hive::integration {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kUnauthorized = 4401;
// Bounds only a hang: an expiry 2-3 s away comes well within it.
constexpr absl::Duration kExpiryWait = absl::Seconds(30);
constexpr absl::Duration kReplyWait = absl::Seconds(10);

class TokenLifetimeTest : public BridgeTest {
 protected:
  // At debug level, so that the refresh's own log lines are there to search.
  static void SetUpTestSuite() { StartSuiteBridge({"--token-leeway=0s", "--log-level=debug"}); }
  static void TearDownTestSuite() { StopSuiteBridge(); }

  // An `exp` 2 to 3 s from now (JWT times are whole seconds).
  static absl::Time SoonExp() { return absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) + 3); }

  std::string Token(const std::string& device_id, const std::string& account_id, absl::Time exp) {
    return hive::testing::MintHs256(bridge().secret(), device_id, account_id, exp);
  }

  // A connected, listed device authenticated with a token expiring at `exp`.
  TestDevice& ConnectUntil(absl::Time exp, std::optional<Responder> responder = std::nullopt) {
    const std::string device_id = NewId();
    const std::string account_id = NewId();
    return Connect({.device_id = device_id,
                    .account_id = account_id,
                    .responder = responder,
                    .token = Token(device_id, account_id, exp)});
  }
};

TEST_F(TokenLifetimeTest, TokenExpiringWhileConnectedCloses4401) {
  const absl::Time exp = SoonExp();
  TestDevice& device = ConnectUntil(exp);
  EventStream& stream = SubscribeTo(device);

  ASSERT_TRUE(device.WaitClosed(kExpiryWait)) << device.Transcript() << "\n" << Log();

  EXPECT_GE(absl::Now(), exp);  // not before its time (a lower bound only)
  EXPECT_EQ(device.close_code(), kUnauthorized) << device.Transcript();
  EXPECT_EQ(device.close_reason(), "token expired");
  std::optional<DeviceEvent> event = stream.NextMatching(OfType("device-disconnected"), kReplyWait);
  ASSERT_TRUE(event.has_value()) << Log();
  EXPECT_EQ(event->disconnected().close_code(), kUnauthorized);
  EXPECT_EQ(event->disconnected().reason(), "token expired");
  // The device's twin remembers how its connection ended.
  hive::bridge::v1::GetDeviceResponse twin;
  ASSERT_TRUE(GetDevice(stub(), device.device_id(), &twin).ok());
  EXPECT_FALSE(twin.device().online());
  EXPECT_EQ(twin.device().close_code(), kUnauthorized);
  EXPECT_EQ(twin.device().close_reason(), "token expired");
}

TEST_F(TokenLifetimeTest, RefreshedTokenKeepsTheConnectionPastTheFirstExpiry) {
  const absl::Time exp = SoonExp();
  TestDevice& device = ConnectUntil(exp, Responder::Ack());
  // Its token expires with the device's first one and is never refreshed:
  // its close says the bridge's clock has passed that exp.
  TestDevice& canary = ConnectUntil(exp);

  device.Send(absl::StrCat("Bearer ", Token(device.device_id(), device.account_id(), exp + absl::Hours(1))));

  std::optional<std::string> reply = device.NextOfType("authenticated", kReplyWait);
  ASSERT_TRUE(reply.has_value()) << device.Transcript() << "\n" << Log();
  EXPECT_THAT(*reply, HasSubstr(device.device_id()));
  ASSERT_TRUE(canary.WaitClosed(kExpiryWait)) << canary.Transcript() << "\n" << Log();
  ASSERT_EQ(canary.close_reason(), "token expired") << canary.Transcript();
  ExpectAcked(device);
  EXPECT_TRUE(device.open()) << device.Transcript();
}

TEST_F(TokenLifetimeTest, RefreshWithAnExpiredTokenCloses4401SayingWhy) {
  TestDevice& device = ConnectUntil(absl::Now() + absl::Hours(1));

  device.Send(absl::StrCat("Bearer ", Token(device.device_id(), device.account_id(), absl::Now() - absl::Hours(1))));

  ASSERT_TRUE(device.WaitClosed(kReplyWait)) << device.Transcript() << "\n" << Log();
  EXPECT_EQ(device.close_code(), kUnauthorized);
  EXPECT_THAT(device.close_reason(), HasSubstr("token refresh failed: token expired at "));
}

TEST_F(TokenLifetimeTest, RefreshForAnotherAccountCloses4401SayingWhy) {
  TestDevice& device = ConnectUntil(absl::Now() + absl::Hours(1));

  device.Send(absl::StrCat("Bearer ", Token(device.device_id(), NewId(), absl::Now() + absl::Hours(1))));

  ASSERT_TRUE(device.WaitClosed(kReplyWait)) << device.Transcript() << "\n" << Log();
  EXPECT_EQ(device.close_code(), kUnauthorized);
  EXPECT_EQ(device.close_reason(), "token refresh failed: the new token is for another account");
}

// docs/SECURITY.md, "Token leak in logs": refreshed tokens, accepted or not,
// appear in no log line (nor their signatures).
TEST_F(TokenLifetimeTest, RefreshTokensNeverReachTheLog) {
  TestDevice& kept = ConnectUntil(absl::Now() + absl::Hours(1));
  TestDevice& refused = ConnectUntil(absl::Now() + absl::Hours(1));
  const std::string accepted = Token(kept.device_id(), kept.account_id(), absl::Now() + absl::Hours(2));
  const std::string forged =
      hive::testing::MintHs256("a different secret, also at least 32 bytes long", refused.device_id(),
                               refused.account_id(), absl::Now() + absl::Hours(2));

  kept.Send(absl::StrCat("Bearer ", accepted));
  refused.Send(absl::StrCat("Bearer ", forged));

  ASSERT_TRUE(kept.NextOfType("authenticated", kReplyWait).has_value()) << kept.Transcript() << "\n" << Log();
  ASSERT_TRUE(refused.WaitClosed(kReplyWait)) << refused.Transcript() << "\n" << Log();
  ASSERT_TRUE(bridge().WaitForLog("event=device_token_refreshed", kReplyWait)) << Log();
  ASSERT_TRUE(bridge().WaitForLog("event=device_token_refresh_failed", kReplyWait)) << Log();
  const std::string log = Log();
  for (const std::string& token : {accepted, forged}) {
    EXPECT_THAT(log, Not(HasSubstr(token)));
    EXPECT_THAT(log, Not(HasSubstr(token.substr(token.rfind('.') + 1))));  // the signature
  }
}

}  // namespace
}  // namespace hive::integration

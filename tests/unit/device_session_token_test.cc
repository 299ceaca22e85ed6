// A device session's token lifetime (docs/protocol.md §2, "Token lifetime and
// refresh") and the close it reports (§8): with the real JwtAuthenticator on
// a fake clock, the fake transport's timers standing in for the I/O thread's.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "bridge/auth/jwt_authenticator.h"
#include "bridge/bus/inproc_bus.h"
#include "bridge/close_codes.h"
#include "bridge/device_session.h"
#include "bridge/event_hub.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/support/fake_clock.h"
#include "tests/unit/support/fake_device_transport.h"
#include "tests/unit/support/test_tokens.h"

namespace hive {
namespace {

using hive::bridge::v1::DeviceEvent;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kSecret[] = "device-session-token-test-secret-0123456789";
constexpr char kDevice[] = "d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b";
constexpr char kOtherDevice[] = "0b8a4f3e-5a7e-4c1e-9d52-1f0d6c2b9e11";
constexpr char kAccount[] = "8813b625-e219-4390-9a7b-fe0e22c9e50b";
constexpr char kOtherAccount[] = "5d0a7c52-3f4b-4e8e-a0a6-8c5b7f3e2d19";
constexpr absl::Duration kLeeway = absl::Seconds(5);

JwtAuthenticatorOptions WithLeeway() {
  JwtAuthenticatorOptions options;
  options.leeway = kLeeway;
  return options;
}

class DeviceSessionTokenTest : public ::testing::Test {
 protected:
  DeviceSessionTokenTest()
      : authenticator_(*JwtAuthenticator::FromHs256Secret(kSecret, clock_, WithLeeway())),
        hub_(clock_, {}, "epoch-1"),
        bus_(hub_),
        registry_(clock_),
        correlator_(clock_, {}),
        services_{clock_, *authenticator_, registry_, correlator_, bus_, "replica-1", nullptr} {
    // Long enough that only expiry checks come due in these tests.
    limits_.ping_interval = absl::Hours(10);
    limits_.auth_timeout = absl::Hours(10);
    subscription_ = hub_.Subscribe(EventFilter(), std::nullopt, [] {});
  }

  // "Bearer <token>" for kDevice of kAccount, expiring `valid_for` from now.
  std::string Bearer(absl::Duration valid_for, const std::string& device = kDevice,
                     const std::string& account = kAccount) {
    return absl::StrCat("Bearer ", testing::MintHs256(kSecret, device, account, clock_.Now() + valid_for));
  }

  std::shared_ptr<DeviceSession> OpenWithToken(testing::TransportLog& log, absl::Duration valid_for) {
    auto session = std::make_shared<DeviceSession>(
        services_, limits_, std::make_unique<testing::FakeDeviceTransport>(log), codec::Dialect::kStandard);
    session->Start(std::nullopt);
    session->OnText(Bearer(valid_for));
    EXPECT_TRUE(session->authenticated()) << log.close_reason;
    return session;
  }

  // Moves the clock by `by` and runs every timer then due, the way the I/O
  // thread would: a timer set for `delay` runs once `delay` has passed since
  // it was set (tracked here, since the fake transport only records delays).
  void Advance(testing::TransportLog& log, absl::Duration by) {
    clock_.Advance(by);
    for (auto& [delay, task] : log.timers) pending_.push_back({clock_.Now() - by + delay, std::move(task)});
    log.timers.clear();
    for (bool ran = true; ran;) {
      ran = false;
      for (size_t i = 0; i < pending_.size(); ++i) {
        if (pending_[i].due > clock_.Now()) continue;
        auto task = std::move(pending_[i].task);
        pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
        task();
        for (auto& [delay, next] : log.timers) pending_.push_back({clock_.Now() + delay, std::move(next)});
        log.timers.clear();
        ran = true;
        break;
      }
    }
  }

  std::vector<std::shared_ptr<const DeviceEvent>> Events() {
    std::vector<std::shared_ptr<const DeviceEvent>> events;
    while (auto event = subscription_->Next()) events.push_back(std::move(event));
    return events;
  }

  struct Pending {
    absl::Time due;
    absl::AnyInvocable<void()> task;
  };

  testing::FakeClock clock_;
  std::unique_ptr<JwtAuthenticator> authenticator_;
  EventHub hub_;
  InprocBus bus_;
  SessionRegistry registry_;
  RequestCorrelator correlator_;
  SessionServices services_;
  SessionLimits limits_;
  std::unique_ptr<Subscription> subscription_;
  std::vector<Pending> pending_;
};

TEST_F(DeviceSessionTokenTest, SessionClosesWith4401TokenExpiredAtExpPlusTheLeeway) {
  testing::TransportLog log;
  auto session = OpenWithToken(log, absl::Seconds(60));

  Advance(log, absl::Seconds(60) + kLeeway - absl::Seconds(1));
  EXPECT_FALSE(log.closed) << log.close_reason;
  Advance(log, absl::Seconds(1));

  EXPECT_TRUE(log.closed);
  EXPECT_EQ(log.close_code, close_code::kUnauthorized);
  EXPECT_EQ(log.close_reason, "token expired");
}

TEST_F(DeviceSessionTokenTest, HeaderTokenExpiresTheSameWay) {
  testing::TransportLog log;
  auto session = std::make_shared<DeviceSession>(
      services_, limits_, std::make_unique<testing::FakeDeviceTransport>(log), codec::Dialect::kStandard);
  session->Start(testing::MintHs256(kSecret, kDevice, kAccount, clock_.Now() + absl::Seconds(10)));
  ASSERT_TRUE(session->authenticated());

  Advance(log, absl::Seconds(10) + kLeeway);

  EXPECT_EQ(log.close_code, close_code::kUnauthorized);
  EXPECT_EQ(log.close_reason, "token expired");
}

TEST_F(DeviceSessionTokenTest, RefreshRepliesAuthenticatedAndMovesTheExpiryLater) {
  testing::TransportLog log;
  auto session = OpenWithToken(log, absl::Seconds(60));
  const size_t replies = log.sent.size();

  Advance(log, absl::Seconds(30));
  session->OnText(Bearer(absl::Minutes(10)));

  ASSERT_EQ(log.sent.size(), replies + 1);
  EXPECT_EQ(log.sent.back(), log.sent.front());  // the same `authenticated` reply as at login
  EXPECT_THAT(log.sent.back(), HasSubstr(R"("type":"authenticated")"));
  Advance(log, absl::Seconds(30) + kLeeway);  // past the first token's expiry
  EXPECT_FALSE(log.closed) << log.close_reason;
  Advance(log, absl::Minutes(10) - absl::Seconds(30) - absl::Seconds(1));
  EXPECT_FALSE(log.closed) << log.close_reason;
  Advance(log, absl::Seconds(1));
  EXPECT_EQ(log.close_code, close_code::kUnauthorized);
  EXPECT_EQ(log.close_reason, "token expired");
}

TEST_F(DeviceSessionTokenTest, RefreshToAnEarlierExpiryMovesTheExpiryEarlier) {
  testing::TransportLog log;
  auto session = OpenWithToken(log, absl::Hours(1));

  session->OnText(Bearer(absl::Seconds(20)));
  Advance(log, absl::Seconds(20) + kLeeway);

  EXPECT_EQ(log.close_code, close_code::kUnauthorized);
  EXPECT_EQ(log.close_reason, "token expired");
}

TEST_F(DeviceSessionTokenTest, RepeatedRefreshesLeaveOneExpiryTimer) {
  testing::TransportLog log;
  auto session = OpenWithToken(log, absl::Seconds(60));
  const size_t timers = log.timers.size();

  for (int i = 1; i <= 50; ++i) session->OnText(Bearer(absl::Seconds(60 + i)));

  EXPECT_EQ(log.timers.size(), timers);
  EXPECT_FALSE(log.closed);
}

TEST_F(DeviceSessionTokenTest, RefreshWithATokenOfAnotherDeviceCloses4401) {
  testing::TransportLog log;
  auto session = OpenWithToken(log, absl::Minutes(5));

  session->OnText(Bearer(absl::Minutes(10), kOtherDevice));

  EXPECT_EQ(log.close_code, close_code::kUnauthorized);
  EXPECT_EQ(log.close_reason, "token refresh failed: the new token is for another device");
  EXPECT_EQ(registry_.Find(kDevice), session);  // until the transport reports the close
}

TEST_F(DeviceSessionTokenTest, RefreshWithATokenOfAnotherAccountCloses4401) {
  testing::TransportLog log;
  auto session = OpenWithToken(log, absl::Minutes(5));

  session->OnText(Bearer(absl::Minutes(10), kDevice, kOtherAccount));

  EXPECT_EQ(log.close_code, close_code::kUnauthorized);
  EXPECT_EQ(log.close_reason, "token refresh failed: the new token is for another account");
}

TEST_F(DeviceSessionTokenTest, RefreshWithAnExpiredTokenCloses4401SayingWhy) {
  testing::TransportLog log;
  auto session = OpenWithToken(log, absl::Minutes(5));
  const size_t replies = log.sent.size();

  session->OnText(Bearer(-absl::Minutes(1)));

  EXPECT_EQ(log.sent.size(), replies);  // no reply: the close says it
  EXPECT_EQ(log.close_code, close_code::kUnauthorized);
  EXPECT_THAT(log.close_reason, StartsWith("token refresh failed: token expired at "));
}

TEST_F(DeviceSessionTokenTest, RefreshWithABadSignatureCloses4401SayingWhy) {
  testing::TransportLog log;
  auto session = OpenWithToken(log, absl::Minutes(5));

  session->OnText(absl::StrCat("Bearer ", testing::MintHs256("another secret of at least thirty-two bytes", kDevice,
                                                             kAccount, clock_.Now() + absl::Minutes(10))));

  EXPECT_EQ(log.close_code, close_code::kUnauthorized);
  EXPECT_EQ(log.close_reason, "token refresh failed: token signature is invalid");
}

TEST_F(DeviceSessionTokenTest, RefreshAfterTheOldTokenExpiredInTheLeewayKeepsTheSession) {
  testing::TransportLog log;
  auto session = OpenWithToken(log, absl::Seconds(60));

  Advance(log, absl::Seconds(60) + kLeeway - absl::Seconds(1));  // past exp, within the leeway
  session->OnText(Bearer(absl::Minutes(5)));
  Advance(log, absl::Seconds(2));

  EXPECT_FALSE(log.closed) << log.close_reason;
}

TEST_F(DeviceSessionTokenTest, TheDisconnectedEventCarriesTheCloseTheSessionSent) {
  testing::TransportLog log;
  auto session = OpenWithToken(log, absl::Seconds(10));
  Events();
  Advance(log, absl::Seconds(10) + kLeeway);
  ASSERT_TRUE(log.closed);

  // websocketpp saw no answer to the close: it reports 1006.
  session->OnClosed(close_code::kAbnormal, "connection lost without a close frame", ClosedBy::kNeither);

  auto events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->type(), "device-disconnected");
  EXPECT_EQ(events[0]->disconnected().close_code(), close_code::kUnauthorized);
  EXPECT_EQ(events[0]->disconnected().reason(), "token expired");
}

TEST_F(DeviceSessionTokenTest, AClosingConnectionReportsTheDevicesCloseNotTheOneItCouldNotSend) {
  testing::TransportLog log;
  auto session = OpenWithToken(log, absl::Seconds(10));
  Events();
  log.refuse_close = true;  // the device's close frame came first
  Advance(log, absl::Seconds(10) + kLeeway);

  session->OnClosed(4000, "firmware update", ClosedBy::kDevice);

  auto events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->disconnected().close_code(), 4000);
  EXPECT_EQ(events[0]->disconnected().reason(), "firmware update");
}

}  // namespace
}  // namespace hive

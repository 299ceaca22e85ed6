#include "bridge/device_session.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bridge/auth/auth_failure.h"
#include "bridge/bus/inproc_bus.h"
#include "bridge/close_codes.h"
#include "bridge/codec/device_request.h"
#include "bridge/event_hub.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/support/fake_clock.h"
#include "tests/unit/support/fake_device_transport.h"

namespace hive {
namespace {

using hive::bridge::v1::DeviceEvent;
using hive::bridge::v1::SendDeviceRequestResponse;
using ::testing::HasSubstr;

constexpr char kDevice[] = "d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b";
constexpr char kAccount[] = "8813b625-e219-4390-9a7b-fe0e22c9e50b";
constexpr RequestCorrelator::Digest kDigest = 42;

// Accepts "good-<device>" tokens for kAccount; anything else is refused.
class FakeAuthenticator final : public DeviceAuthenticator {
 public:
  absl::StatusOr<DeviceIdentity> Authenticate(absl::string_view token) const override {
    if (!absl::StartsWith(token, "good-")) return AuthError(AuthFailure::kSignature, "token signature is invalid");
    return DeviceIdentity{std::string(token.substr(5)), kAccount, absl::InfiniteFuture()};
  }
};

class DeviceSessionTest : public ::testing::Test {
 protected:
  DeviceSessionTest()
      : hub_(clock_, {}, "epoch-1"),
        bus_(hub_),
        registry_(clock_),
        correlator_(clock_, {}),
        services_{clock_, authenticator_, registry_, correlator_, bus_, "replica-1", &counters_, &devices_} {
    limits_.max_bad_frames = 3;
    subscription_ = hub_.Subscribe(EventFilter(), std::nullopt, [] {});
  }

  std::shared_ptr<DeviceSession> Open(testing::TransportLog& log, codec::Dialect dialect = codec::Dialect::kStandard) {
    auto session = std::make_shared<DeviceSession>(services_, limits_,
                                                   std::make_unique<testing::FakeDeviceTransport>(log), dialect);
    session->Start(std::nullopt);
    return session;
  }

  std::shared_ptr<DeviceSession> OpenAuthenticated(testing::TransportLog& log, const std::string& device = kDevice) {
    auto session = Open(log);
    session->OnText("Bearer good-" + device);
    return session;
  }

  std::vector<std::shared_ptr<const DeviceEvent>> Events() {
    std::vector<std::shared_ptr<const DeviceEvent>> events;
    while (auto event = subscription_->Next()) events.push_back(std::move(event));
    return events;
  }

  testing::FakeClock clock_;
  FakeAuthenticator authenticator_;
  EventHub hub_;
  InprocBus bus_;
  SessionRegistry registry_;
  RequestCorrelator correlator_;
  LimitCounters counters_;
  DeviceCounters devices_;
  SessionServices services_;
  SessionLimits limits_;
  std::unique_ptr<Subscription> subscription_;
};

TEST_F(DeviceSessionTest, BearerMessageAuthenticatesRegistersAndAnnounces) {
  testing::TransportLog log;
  auto session = Open(log);
  session->OnText(std::string("Bearer good-") + kDevice);
  ASSERT_EQ(log.sent.size(), 1u);
  EXPECT_THAT(log.sent[0], HasSubstr(R"("type":"authenticated")"));
  EXPECT_EQ(registry_.Find(kDevice), session);
  auto events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->type(), "device-connected");
  EXPECT_EQ(events[0]->connected().address(), "192.0.2.7:5555");
}

TEST_F(DeviceSessionTest, AnythingButABearerTokenInQuarantineCloses4401) {
  testing::TransportLog log;
  auto session = Open(log);
  session->OnText(R"({"type":"device-state"})");
  EXPECT_TRUE(log.closed);
  EXPECT_EQ(log.close_code, close_code::kUnauthorized);
  EXPECT_THAT(log.close_reason, HasSubstr("Bearer"));
  EXPECT_TRUE(Events().empty());
}

TEST_F(DeviceSessionTest, BadTokenCloses4401WithTheReason) {
  testing::TransportLog log;
  auto session = Open(log);
  session->OnText("Bearer forged");
  EXPECT_EQ(log.close_code, close_code::kUnauthorized);
  EXPECT_EQ(log.close_reason, "token signature is invalid");
  EXPECT_EQ(registry_.size(), 0u);
}

// What /metrics reads (DeviceCounters): refusals by reason and their 4401
// closes, connections by protocol, frames, bytes and events by type.
TEST_F(DeviceSessionTest, CountsAuthFailuresClosesConnectionsFramesAndEvents) {
  testing::TransportLog forged_log;
  auto forged = Open(forged_log);
  forged->OnText("Bearer forged");
  forged->OnClosed(close_code::kUnauthorized, "", ClosedBy::kNeither);
  testing::TransportLog silent_log;
  auto silent = Open(silent_log);
  silent->OnText(R"({"type":"device-state"})");
  EXPECT_EQ(devices_.auth_failures(AuthFailure::kSignature), 1u);
  EXPECT_EQ(devices_.auth_failures(AuthFailure::kMissing), 1u);
  // The close the bridge sent wins over what the transport saw.
  const size_t unauthorized = static_cast<size_t>(
      std::find(DeviceCounters::kCloseCodes.begin(), DeviceCounters::kCloseCodes.end(), close_code::kUnauthorized) -
      DeviceCounters::kCloseCodes.begin());
  EXPECT_EQ(devices_.closes(unauthorized, ClosedBy::kBridge), 1u);

  testing::TransportLog log;
  auto session = OpenAuthenticated(log);
  EXPECT_EQ(devices_.connected(codec::Dialect::kStandard), 1);
  const std::string event = R"({"type":"device-state","payload":{}})";
  session->OnText(event);
  session->OnText(R"({"type":"my-telemetry","payload":{}})");
  EXPECT_EQ(devices_.events(0), 1u) << "device-state";
  EXPECT_EQ(devices_.events(DeviceCounters::kEventTypes.size() - 1), 1u) << "other";
  EXPECT_EQ(devices_.events(5), 1u) << "device-connected";
  session->OnClosed(close_code::kNormal, "bye", ClosedBy::kDevice);
  EXPECT_EQ(devices_.connected(codec::Dialect::kStandard), 0);
  EXPECT_EQ(devices_.closes(0, ClosedBy::kDevice), 1u);
  EXPECT_EQ(devices_.frames_in(), 5u);  // two bad first frames, the bearer frame, two events
  EXPECT_EQ(devices_.frames_out(), log.sent.size());
  size_t sent_bytes = 0;
  for (const std::string& frame : log.sent) sent_bytes += frame.size();
  EXPECT_EQ(devices_.bytes_out(), sent_bytes);
}

TEST_F(DeviceSessionTest, AuthTimeoutClosesOnlyAConnectionStillInQuarantine) {
  testing::TransportLog waiting;
  auto quiet = Open(waiting);
  waiting.FireTimers();
  EXPECT_EQ(waiting.close_code, close_code::kUnauthorized);

  testing::TransportLog log;
  auto session = Open(log);
  session->OnText(std::string("Bearer good-") + kDevice);
  log.closed = false;
  log.timers.erase(std::remove_if(log.timers.begin(), log.timers.end(),
                                  [](const auto& timer) { return timer.first != absl::Seconds(10); }),
                   log.timers.end());
  log.FireTimers();
  EXPECT_FALSE(log.closed);
}

TEST_F(DeviceSessionTest, EventsAreStampedWithTheAuthenticatedIdentity) {
  testing::TransportLog log;
  auto session = Open(log);
  session->OnText(std::string("Bearer good-") + kDevice);
  Events();
  session->OnText(R"({"type":"device-state","state":"disk-low","device":"someone-else","account":"x","service":"y"})");
  auto events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->device_id(), kDevice);
  EXPECT_EQ(events[0]->account_id(), kAccount);
  EXPECT_EQ(events[0]->service(), "hive-device");
  EXPECT_EQ(events[0]->device_state().state(), "disk-low");
}

TEST_F(DeviceSessionTest, BadMemberOfABatchGetsItsErrorWhileTheRestIsDelivered) {
  testing::TransportLog log;
  auto session = Open(log);
  session->OnText(std::string("Bearer good-") + kDevice);
  Events();
  session->OnText(R"([{"type":"device-version","version":"1.2"},{"cid":"c-7","state":"no type"},{"type":"x"}])");
  EXPECT_EQ(Events().size(), 2u);
  ASSERT_EQ(log.sent.size(), 2u);
  EXPECT_THAT(log.sent[1], HasSubstr(R"("error":"[1].type: missing")"));
  EXPECT_THAT(log.sent[1], HasSubstr(R"("cid":"c-7")"));
}

TEST_F(DeviceSessionTest, ReservedTypesFromADeviceAreRefused) {
  testing::TransportLog log;
  auto session = Open(log);
  session->OnText(std::string("Bearer good-") + kDevice);
  Events();
  session->OnText(R"({"type":"device-alive"})");
  EXPECT_TRUE(Events().empty());
  EXPECT_THAT(log.sent.back(), HasSubstr("reserved for the bridge"));
}

TEST_F(DeviceSessionTest, TooManyBadFramesInARowClose1008AndAGoodFrameResetsTheCount) {
  testing::TransportLog log;
  auto session = Open(log);
  session->OnText(std::string("Bearer good-") + kDevice);
  session->OnText("{");
  session->OnText("{");
  session->OnText(R"({"type":"ok"})");
  session->OnText("{");
  session->OnText("{");
  EXPECT_FALSE(log.closed);
  session->OnText("{");
  EXPECT_EQ(log.close_code, close_code::kPolicyViolation);
}

TEST_F(DeviceSessionTest, BinaryFrameCloses1003) {
  testing::TransportLog log;
  auto session = Open(log);
  session->OnText(std::string("Bearer good-") + kDevice);
  session->OnBinary();
  EXPECT_EQ(log.close_code, close_code::kUnsupportedData);
}

TEST_F(DeviceSessionTest, AckFromTheDeviceCompletesItsPendingRequest) {
  testing::TransportLog log;
  auto session = Open(log);
  session->OnText(std::string("Bearer good-") + kDevice);
  absl::StatusOr<SendDeviceRequestResponse> outcome = absl::UnknownError("not completed");
  auto registration =
      correlator_.Await("r-1", kDevice, kDigest, hive::bridge::v1::WAIT_MODE_ACK, clock_.Now() + absl::Seconds(5),
                        [&](absl::StatusOr<SendDeviceRequestResponse> result) { outcome = result; });
  ASSERT_TRUE(session->SendRequest("frame", "r-1", registration.waiter).ok());
  EXPECT_FALSE(outcome.ok()) << "not sent until the session's thread writes it";
  log.RunPosted();
  EXPECT_EQ(log.sent.back(), "frame");
  session->OnText(R"({"cid":"r-1","res":"suc"})");
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->status(), hive::bridge::v1::REQUEST_STATUS_ACKED);
}

TEST_F(DeviceSessionTest, ResponseToAnUnknownRequestGetsAnErrorReply) {
  testing::TransportLog log;
  auto session = Open(log);
  session->OnText(std::string("Bearer good-") + kDevice);
  session->OnText(R"({"type":"device-response","request":"nope","status":"ack"})");
  EXPECT_THAT(log.sent.back(), HasSubstr(R"(no pending request \"nope\")"));
}

TEST_F(DeviceSessionTest, DisconnectAbortsWrittenRequestsAndAnnouncesTheCloseCode) {
  testing::TransportLog log;
  auto session = Open(log);
  session->OnText(std::string("Bearer good-") + kDevice);
  absl::StatusOr<SendDeviceRequestResponse> outcome = absl::UnknownError("not completed");
  auto registration =
      correlator_.Await("r-2", kDevice, kDigest, hive::bridge::v1::WAIT_MODE_ACK, clock_.Now() + absl::Seconds(5),
                        [&](absl::StatusOr<SendDeviceRequestResponse> result) { outcome = result; });
  ASSERT_TRUE(session->SendRequest("frame", "r-2", registration.waiter).ok());
  log.RunPosted();
  Events();
  session->OnClosed(1006, "connection lost", ClosedBy::kNeither);
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(outcome.status().message(), HasSubstr("closed (close code 1006) before the device acknowledged it"));
  EXPECT_EQ(registry_.size(), 0u);
  auto events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->disconnected().close_code(), 1006);
  EXPECT_EQ(session->SendRequest("late", "r-3", 0).code(), absl::StatusCode::kUnavailable);
}

TEST_F(DeviceSessionTest, ASecondConnectionReplacesTheFirstWith4409) {
  testing::TransportLog first_log;
  auto first = Open(first_log);
  first->OnText(std::string("Bearer good-") + kDevice);
  testing::TransportLog second_log;
  auto second = Open(second_log);
  second->OnText(std::string("Bearer good-") + kDevice);
  EXPECT_EQ(registry_.Find(kDevice), second);
  EXPECT_EQ(first->SendRequest("x", "r-1", 0).code(), absl::StatusCode::kUnavailable);
  first_log.RunPosted();
  EXPECT_EQ(first_log.close_code, close_code::kReplaced);
  // The replaced link's goodbye leaves its successor registered.
  first->OnClosed(close_code::kReplaced, "replaced", ClosedBy::kBridge);
  EXPECT_EQ(registry_.Find(kDevice), second);
}

TEST_F(DeviceSessionTest, PongsMakeAliveEventsAndAMissingPongCloses4408) {
  testing::TransportLog log;
  auto session = Open(log);
  session->OnText(std::string("Bearer good-") + kDevice);
  Events();
  log.FireTimers();  // auth timeout (no-op) and the first ping
  EXPECT_EQ(log.pings, 1);
  session->OnPong();
  auto events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->type(), "device-alive");
  EXPECT_TRUE(session->Describe().has_last_alive_at());
  log.FireTimers();  // pong timeout of ping 1 (answered) and ping 2
  EXPECT_FALSE(log.closed);
  log.FireTimers();  // pong timeout of ping 2 (unanswered)
  EXPECT_EQ(log.close_code, close_code::kPongTimeout);
}

TEST_F(DeviceSessionTest, FullSendQueueIsResourceExhausted) {
  limits_.send_queue = 2;
  testing::TransportLog log;
  auto session = Open(log);
  session->OnText(std::string("Bearer good-") + kDevice);
  EXPECT_TRUE(session->SendRequest("1", "r-1", 0).ok());
  EXPECT_TRUE(session->SendRequest("2", "r-2", 0).ok());
  EXPECT_EQ(session->SendRequest("3", "r-3", 0).code(), absl::StatusCode::kResourceExhausted);
  log.RunPosted();
  EXPECT_TRUE(session->SendRequest("4", "r-4", 0).ok());
}

TEST_F(DeviceSessionTest, CompactDialectRepliesInCompactKeys) {
  testing::TransportLog log;
  auto session = Open(log, codec::Dialect::kCompact);
  session->OnText(std::string("Bearer good-") + kDevice);
  EXPECT_THAT(log.sent[0], HasSubstr(R"("typ":"authenticated")"));
  EXPECT_EQ(session->Describe().protocol(), "hive.compact.v1");
}

// --- Limits -------------------------------------------------------------------

// Fires the timers set to run within `horizon` (not those they set).
void FireTimersWithin(testing::TransportLog& log, absl::Duration horizon) {
  std::vector<std::pair<absl::Duration, absl::AnyInvocable<void()>>> due, later;
  for (auto& timer : log.timers) (timer.first <= horizon ? due : later).push_back(std::move(timer));
  log.timers = std::move(later);
  for (auto& [delay, task] : due) task();
}

TEST_F(DeviceSessionTest, EventsOverTheRateGetAnErrorReplyUntilTheBucketRefills) {
  limits_.event_rate = 1;
  limits_.event_burst = 2;
  testing::TransportLog log;
  auto session = OpenAuthenticated(log);
  Events();
  session->OnText(R"({"type":"telemetry","n":1})");
  session->OnText(R"({"type":"telemetry","n":2})");
  EXPECT_EQ(Events().size(), 2u);

  session->OnText(R"({"type":"telemetry","cid":"c-3"})");

  EXPECT_TRUE(Events().empty());
  EXPECT_THAT(log.sent.back(), HasSubstr(R"("error":"rate limit: over 1 events/s (burst 2); event dropped)"));
  EXPECT_THAT(log.sent.back(), HasSubstr(R"("cid":"c-3")"));
  EXPECT_EQ(counters_.value(Limit::kDeviceEventRate), 1u);
  clock_.Advance(absl::Seconds(1));
  session->OnText(R"({"type":"telemetry","n":4})");
  EXPECT_EQ(Events().size(), 1u);
  EXPECT_FALSE(log.closed);
}

TEST_F(DeviceSessionTest, ABatchIsAdmittedUpToTheTokensLeftAndTheRestGetsErrors) {
  limits_.event_rate = 1;
  limits_.event_burst = 2;
  testing::TransportLog log;
  auto session = OpenAuthenticated(log);
  Events();
  session->OnText(R"([{"type":"a"},{"type":"b"},{"type":"c","cid":"c-3"}])");
  auto events = Events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1]->type(), "b");
  EXPECT_THAT(log.sent.back(), HasSubstr(R"("cid":"c-3")"));
  EXPECT_THAT(log.sent.back(), HasSubstr("rate limit"));
}

TEST_F(DeviceSessionTest, ResponsesAreNotBoundByTheEventRate) {
  limits_.event_rate = 1;
  limits_.event_burst = 1;
  testing::TransportLog log;
  auto session = OpenAuthenticated(log);
  session->OnText(R"({"type":"telemetry"})");  // the only token
  absl::StatusOr<SendDeviceRequestResponse> outcome = absl::UnknownError("not completed");
  auto registration =
      correlator_.Await("r-1", kDevice, kDigest, hive::bridge::v1::WAIT_MODE_ACK, clock_.Now() + absl::Seconds(5),
                        [&](absl::StatusOr<SendDeviceRequestResponse> result) { outcome = result; });
  correlator_.MarkSent("r-1", registration.waiter, session->connection_id());
  session->OnText(R"({"type":"device-response","request":"r-1","status":"ack"})");
  ASSERT_TRUE(outcome.ok()) << outcome.status();
}

TEST_F(DeviceSessionTest, FloodingPastTheRateCloses4429AfterMaxBadFramesInARow) {
  limits_.event_rate = 1;
  limits_.event_burst = 1;
  testing::TransportLog log;
  auto session = OpenAuthenticated(log);
  session->OnText(R"({"type":"telemetry"})");
  session->OnText(R"({"type":"telemetry"})");
  session->OnText(R"({"type":"telemetry"})");
  EXPECT_FALSE(log.closed);

  session->OnText(R"({"type":"telemetry"})");  // the third refused frame in a row (max_bad_frames 3)

  EXPECT_EQ(log.close_code, close_code::kRateLimited);
  EXPECT_EQ(log.close_reason, "3 frames in a row refused, the last over the event rate (1 events/s, burst 1)");
  EXPECT_EQ(counters_.value(Limit::kDeviceEventFlood), 1u);
  EXPECT_EQ(counters_.value(Limit::kMaxBadFrames), 0u);
}

TEST_F(DeviceSessionTest, ADeviceBackUnderTheRateIsNotClosed) {
  limits_.event_rate = 1;
  limits_.event_burst = 1;
  testing::TransportLog log;
  auto session = OpenAuthenticated(log);
  for (int i = 0; i < 10; ++i) {
    session->OnText(R"({"type":"telemetry"})");  // admitted
    session->OnText(R"({"type":"telemetry"})");  // refused: one bad frame, then reset
    clock_.Advance(absl::Seconds(1));
  }
  EXPECT_FALSE(log.closed);
}

// --- Byte budgets ---------------------------------------------------------------

TEST_F(DeviceSessionTest, ASendBeyondTheSendBufferIsRefusedAndClosesTheDevice4413) {
  limits_.send_buffer_bytes = 1000;
  testing::TransportLog log;
  auto session = OpenAuthenticated(log);
  ASSERT_TRUE(session->SendRequest(std::string(600, 'a'), "r", 0).ok());

  absl::Status refused = session->SendRequest(std::string(600, 'b'), "r", 0);

  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.message(), HasSubstr("600 bytes already waiting to be sent to the device (--device-send-buffer "
                                           "1000)"));
  log.buffered_bytes = 600;  // the first frame, written but not read
  log.RunPosted();
  EXPECT_EQ(log.close_code, close_code::kNotReading);
  EXPECT_EQ(log.close_reason, "1200 bytes to send (--device-send-buffer 1000); the device is not reading");
  EXPECT_EQ(counters_.value(Limit::kDeviceSendBuffer), 2u);  // the refusal and the close
  EXPECT_EQ(session->SendRequest("x", "r", 0).code(), absl::StatusCode::kUnavailable);
}

TEST_F(DeviceSessionTest, SentBytesFreeTheSendBuffer) {
  limits_.send_buffer_bytes = 1000;
  testing::TransportLog log;
  auto session = OpenAuthenticated(log);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(session->SendRequest(std::string(600, 'a'), "r", 0).ok()) << i;
    log.RunPosted();  // written: the transport buffers nothing
  }
  EXPECT_FALSE(log.closed);
}

TEST_F(DeviceSessionTest, BytesTheTransportHoldsCountAndCloseTheDeviceAtTheWatermark) {
  limits_.send_buffer_bytes = 1000;
  testing::TransportLog log;
  auto session = OpenAuthenticated(log);
  log.buffered_bytes = 900;  // the device stopped reading
  ASSERT_TRUE(session->SendRequest(std::string(100, 'a'), "r", 0).ok());
  log.RunPosted();
  EXPECT_FALSE(log.closed);
  // Send now knows of the 900 bytes the transport holds.
  EXPECT_EQ(session->SendRequest(std::string(200, 'b'), "r", 0).code(), absl::StatusCode::kResourceExhausted);
  log.RunPosted();
  EXPECT_EQ(log.close_code, close_code::kNotReading);

  testing::TransportLog other_log;
  auto other = OpenAuthenticated(other_log, "other-device");
  ASSERT_TRUE(other->SendRequest(std::string(100, 'a'), "r", 0).ok());
  other_log.buffered_bytes = 1100;  // grew past the mark with that write
  other_log.RunPosted();
  EXPECT_EQ(other_log.close_code, close_code::kNotReading);
  EXPECT_THAT(other_log.close_reason, HasSubstr("1100 bytes to send"));
}

TEST_F(DeviceSessionTest, ARefusalOnAStaleFigureDoesNotCloseADeviceThatHasReadSince) {
  limits_.send_buffer_bytes = 1000;
  testing::TransportLog log;
  auto session = OpenAuthenticated(log);
  log.buffered_bytes = 900;
  ASSERT_TRUE(session->SendRequest(std::string(100, 'a'), "r", 0).ok());
  log.RunPosted();
  log.buffered_bytes = 0;  // the device read it all, and nothing was written since

  EXPECT_EQ(session->SendRequest(std::string(200, 'b'), "r", 0).code(), absl::StatusCode::kResourceExhausted);
  log.RunPosted();  // looks again

  EXPECT_FALSE(log.closed);
  EXPECT_TRUE(session->SendRequest(std::string(200, 'b'), "r", 0).ok());
}

TEST_F(DeviceSessionTest, AFrameLargerThanTheSendBufferIsRefusedButTheDeviceStays) {
  limits_.send_buffer_bytes = 1000;
  testing::TransportLog log;
  auto session = OpenAuthenticated(log);
  absl::Status refused = session->SendRequest(std::string(1001, 'a'), "r", 0);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.message(), HasSubstr("larger than --device-send-buffer"));
  log.RunPosted();
  EXPECT_FALSE(log.closed);
  EXPECT_TRUE(session->SendRequest("small", "r", 0).ok());
}

TEST_F(DeviceSessionTest, ErrorRepliesToANonReadingDeviceCloseItAtTheWatermark) {
  limits_.send_buffer_bytes = 1000;
  testing::TransportLog log;
  auto session = OpenAuthenticated(log);
  log.buffered_bytes = 990;  // not reading, and each reply grows it
  session->OnText("not json");
  EXPECT_FALSE(log.closed);
  log.buffered_bytes = 1200;
  session->OnText("not json");
  EXPECT_EQ(log.close_code, close_code::kNotReading);
}

TEST_F(DeviceSessionTest, ErrorRepliesTakeTokensAndPastThemAreWithheldAndCountAsOverTheRate) {
  limits_.event_rate = 1;
  limits_.event_burst = 2;
  limits_.max_bad_frames = 5;
  testing::TransportLog log;
  auto session = OpenAuthenticated(log);
  const size_t before = log.sent.size();
  session->OnText("not json");  // token 1
  session->OnText("not json");  // token 2
  session->OnText("not json");  // none left: the one reply that says so
  EXPECT_EQ(log.sent.size(), before + 3);
  session->OnText("not json");  // withheld
  EXPECT_EQ(log.sent.size(), before + 3);
  EXPECT_FALSE(log.closed);

  session->OnText("not json");  // the fifth bad frame in a row, over the rate

  EXPECT_EQ(log.sent.size(), before + 3);
  EXPECT_EQ(log.close_code, close_code::kRateLimited);
  EXPECT_EQ(counters_.value(Limit::kDeviceEventFlood), 1u);
  EXPECT_EQ(counters_.value(Limit::kDeviceEventRate), 2u);
}

TEST_F(DeviceSessionTest, AnEventOverTheMaxEventBytesGetsAnErrorReplyNamingTheLimit) {
  limits_.max_event_bytes = 1024;
  testing::TransportLog log;
  auto session = OpenAuthenticated(log);
  Events();
  session->OnText(absl::StrCat(R"({"type":"telemetry","cid":"big","blob":")", std::string(2000, 'x'), R"("})"));
  session->OnText(absl::StrCat(R"({"type":"telemetry","blob":")", std::string(500, 'x'), R"("})"));

  auto events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->type(), "telemetry");
  EXPECT_THAT(log.sent.back(), HasSubstr("over the size limit, --max-event-bytes 1024"));
  EXPECT_THAT(log.sent.back(), HasSubstr(R"("cid":"big")"));
  EXPECT_EQ(counters_.value(Limit::kMaxEventBytes), 1u);
  EXPECT_FALSE(log.closed);
}

TEST_F(DeviceSessionTest, ADeviceBeyondItsAccountsLimitCloses4403AndIsNeverAnnounced) {
  limits_.max_connections_per_account = 1;
  testing::TransportLog first_log;
  auto first = OpenAuthenticated(first_log);
  Events();
  testing::TransportLog second_log;
  const std::string second_device = "0b9e4d3c-8f21-4a7b-b6c2-5e1f9a3d2c44";

  auto second = OpenAuthenticated(second_log, second_device);

  EXPECT_EQ(second_log.close_code, close_code::kAccountFull);
  EXPECT_EQ(second_log.close_reason,
            absl::StrCat("account ", kAccount, " already has 1 devices connected (--max-connections-per-account)"));
  EXPECT_TRUE(second_log.sent.empty());  // no authenticated reply
  EXPECT_FALSE(second->authenticated());
  EXPECT_EQ(registry_.Find(second_device), nullptr);
  second->OnClosed(close_code::kAccountFull, "account full", ClosedBy::kBridge);
  EXPECT_TRUE(Events().empty());  // neither connected nor disconnected
  EXPECT_EQ(counters_.value(Limit::kMaxConnectionsPerAccount), 1u);
  EXPECT_FALSE(first_log.closed);
  // The same device coming back replaces its connection: no further place.
  testing::TransportLog again_log;
  auto again = OpenAuthenticated(again_log);
  EXPECT_FALSE(again_log.closed);
  EXPECT_EQ(registry_.Find(kDevice), again);
}

TEST_F(DeviceSessionTest, ADeviceSilentForTheIdleTimeoutCloses4410AndFramesPingsAndPongsKeepItOpen) {
  limits_.idle_timeout = absl::Seconds(60);
  limits_.ping_interval = absl::Hours(1);  // no ping within the test
  testing::TransportLog log;
  auto session = OpenAuthenticated(log);
  clock_.Advance(absl::Seconds(50));
  session->OnText(R"({"type":"telemetry"})");
  clock_.Advance(absl::Seconds(20));
  FireTimersWithin(log, absl::Minutes(2));  // 20 s silent: looks again in 40 s
  EXPECT_FALSE(log.closed);
  clock_.Advance(absl::Seconds(30));
  session->OnPong();
  clock_.Advance(absl::Seconds(50));
  FireTimersWithin(log, absl::Minutes(2));
  EXPECT_FALSE(log.closed);
  session->OnPing();
  clock_.Advance(absl::Seconds(59));
  FireTimersWithin(log, absl::Minutes(2));
  EXPECT_FALSE(log.closed);
  clock_.Advance(absl::Seconds(1));

  FireTimersWithin(log, absl::Minutes(2));

  EXPECT_EQ(log.close_code, close_code::kIdle);
  EXPECT_EQ(log.close_reason, "idle: nothing received for 1m");
  EXPECT_EQ(counters_.value(Limit::kIdleTimeout), 1u);
}

TEST_F(DeviceSessionTest, WithoutAnIdleTimeoutASilentDeviceStaysOpen) {
  limits_.ping_interval = absl::Hours(1);
  testing::TransportLog log;
  auto session = OpenAuthenticated(log);
  clock_.Advance(absl::Hours(24));
  FireTimersWithin(log, absl::Minutes(59));
  EXPECT_FALSE(log.closed);
}

TEST_F(DeviceSessionTest, LimitsCountTheirRefusals) {
  limits_.send_queue = 1;
  testing::TransportLog quiet_log;
  auto quiet = Open(quiet_log);
  quiet_log.FireTimers();  // the auth timeout
  EXPECT_EQ(counters_.value(Limit::kAuthTimeout), 1u);

  testing::TransportLog log;
  auto session = OpenAuthenticated(log);
  ASSERT_TRUE(session->SendRequest("1", "r-1", 0).ok());
  EXPECT_EQ(session->SendRequest("2", "r-2", 0).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(counters_.value(Limit::kDeviceSendQueue), 1u);
  for (int i = 0; i < 3; ++i) session->OnText("{");
  EXPECT_EQ(log.close_code, close_code::kPolicyViolation);
  EXPECT_EQ(counters_.value(Limit::kMaxBadFrames), 1u);
}

// One backend call through the correlator, as DeliverToDevice makes it.
struct Call {
  RequestCorrelator::Registration registration;
  std::optional<absl::StatusOr<SendDeviceRequestResponse>> outcome;
  int completions = 0;
};

int FramesOf(const testing::TransportLog& log, const std::string& request_id) {
  return static_cast<int>(std::count(log.sent.begin(), log.sent.end(), "request " + request_id));
}

class RequestOnReconnectTest : public DeviceSessionTest {
 protected:
  // Registers a call for `request_id` and, when told to send, queues it on
  // `link` the way DeliverToDevice does.
  void Deliver(Call& call, const std::string& request_id, DeviceLink& link) {
    call.registration =
        correlator_.Await(request_id, kDevice, kDigest, hive::bridge::v1::WAIT_MODE_ACK,
                          clock_.Now() + absl::Seconds(30), [&call](absl::StatusOr<SendDeviceRequestResponse> outcome) {
                            call.outcome = std::move(outcome);
                            ++call.completions;
                          });
    if (call.registration.role != RequestCorrelator::Role::kSendNow) return;
    if (absl::Status queued = link.SendRequest("request " + request_id, request_id, call.registration.waiter);
        !queued.ok()) {
      correlator_.Fail(request_id, call.registration.waiter, queued);
    }
  }
};

// Stands in for a device's previous connection. Closing it is the moment the
// new connection's Admit reaches right after registering, so its hook runs a
// backend's request in exactly that window.
class ReplacedLink final : public DeviceLink {
 public:
  explicit ReplacedLink(absl::AnyInvocable<void()> on_close) : on_close_(std::move(on_close)) {}
  const std::string& device_id() const override { return device_id_; }
  const std::string& account_id() const override { return account_id_; }
  codec::Dialect dialect() const override { return codec::Dialect::kStandard; }
  hive::bridge::v1::Device Describe() const override { return {}; }
  absl::Status SendRequest(std::string, std::string, RequestCorrelator::WaiterId) override {
    return absl::UnavailableError("closing");
  }
  void Close(int, std::string) override {
    if (on_close_) std::exchange(on_close_, nullptr)();
  }

 private:
  const std::string device_id_ = kDevice;
  const std::string account_id_ = kAccount;
  absl::AnyInvocable<void()> on_close_;
};

TEST_F(RequestOnReconnectTest, ARequestQueuedOnTheNewConnectionWhileItIsAdmittedIsWrittenOnce) {
  Call call;
  ReplacedLink* old = nullptr;
  auto replaced = std::make_shared<ReplacedLink>([&] {
    // Admit registered the new link and is replacing the old one: a backend
    // finds the new link now.
    std::shared_ptr<DeviceLink> found = registry_.Find(kDevice);
    ASSERT_NE(found.get(), old);
    Deliver(call, "r-window", *found);
  });
  old = replaced.get();
  registry_.Register(replaced);
  testing::TransportLog log;
  auto session = OpenAuthenticated(log);
  ASSERT_EQ(call.registration.role, RequestCorrelator::Role::kSendNow);

  EXPECT_FALSE(call.outcome.has_value()) << "admitting a connection fails nothing";
  log.RunPosted();
  session->OnText(R"({"type":"device-response","request":"r-window","status":"ack"})");
  ASSERT_TRUE(call.outcome.has_value());
  ASSERT_TRUE(call.outcome->ok()) << call.outcome->status();
  EXPECT_EQ((*call.outcome)->status(), hive::bridge::v1::REQUEST_STATUS_ACKED);
  EXPECT_EQ(FramesOf(log, "r-window"), 1);
}

TEST_F(RequestOnReconnectTest, ARequestWrittenOnAConnectionThatClosedIsAbortedAndARetryIsNeverSent) {
  testing::TransportLog first_log, second_log;
  auto first = OpenAuthenticated(first_log);
  Call call, retry;
  Deliver(call, "r-written", *first);
  first_log.RunPosted();
  ASSERT_EQ(FramesOf(first_log, "r-written"), 1);
  auto second = OpenAuthenticated(second_log);  // replaces the first
  first_log.RunPosted();
  first->OnClosed(close_code::kReplaced, "replaced", ClosedBy::kBridge);

  ASSERT_TRUE(call.outcome.has_value());
  EXPECT_EQ(call.outcome->status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(call.outcome->status().message(), HasSubstr("the device may have received it"));
  Deliver(retry, "r-written", *second);
  second_log.RunPosted();
  EXPECT_EQ(retry.registration.role, RequestCorrelator::Role::kJoined);
  ASSERT_TRUE(retry.outcome.has_value());
  EXPECT_EQ(retry.outcome->status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(FramesOf(first_log, "r-written") + FramesOf(second_log, "r-written"), 1);
  EXPECT_EQ(call.completions + retry.completions, 2);
}

TEST_F(RequestOnReconnectTest, ARequestQueuedOnAConnectionThatClosedBeforeWritingIsUnavailableAndTheRetrySendsIt) {
  testing::TransportLog first_log, second_log;
  auto first = OpenAuthenticated(first_log);
  Call call, retry;
  Deliver(call, "r-queued", *first);
  first->OnClosed(1006, "connection lost", ClosedBy::kNeither);  // before the session's thread wrote it
  EXPECT_FALSE(call.outcome.has_value());
  first_log.RunPosted();

  ASSERT_TRUE(call.outcome.has_value());
  EXPECT_EQ(call.outcome->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(call.outcome->status().message(), "device disconnected before the request was written; a retry sends it");
  EXPECT_EQ(FramesOf(first_log, "r-queued"), 0);

  auto second = OpenAuthenticated(second_log);
  Deliver(retry, "r-queued", *second);
  EXPECT_EQ(retry.registration.role, RequestCorrelator::Role::kSendNow);
  second_log.RunPosted();
  second->OnText(R"({"type":"device-response","request":"r-queued","status":"ack"})");
  ASSERT_TRUE(retry.outcome.has_value());
  ASSERT_TRUE(retry.outcome->ok()) << retry.outcome->status();
  EXPECT_EQ(FramesOf(second_log, "r-queued"), 1);
}

TEST_F(RequestOnReconnectTest, AReplacedConnectionsQueuedRequestIsWrittenBeforeItClosesAndThenAborted) {
  testing::TransportLog first_log, second_log;
  auto first = OpenAuthenticated(first_log);
  Call call;
  Deliver(call, "r-old", *first);
  auto second = OpenAuthenticated(second_log);
  EXPECT_FALSE(call.outcome.has_value()) << "the new connection does not fail the old one's requests";
  first_log.RunPosted();  // the write, then the close Admit asked for
  ASSERT_EQ(first_log.close_code, close_code::kReplaced);
  EXPECT_EQ(FramesOf(first_log, "r-old"), 1);
  first->OnClosed(close_code::kReplaced, "replaced", ClosedBy::kBridge);
  ASSERT_TRUE(call.outcome.has_value());
  EXPECT_EQ(call.outcome->status().code(), absl::StatusCode::kAborted);
  // The device answers on its new connection: the outcome is known after all.
  second->OnText(R"({"type":"device-response","request":"r-old","status":"ack"})");
  Call retry;
  Deliver(retry, "r-old", *second);
  ASSERT_TRUE(retry.outcome.has_value());
  ASSERT_TRUE(retry.outcome->ok());
  EXPECT_EQ(FramesOf(second_log, "r-old"), 0);
}

}  // namespace
}  // namespace hive

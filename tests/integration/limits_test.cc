// The limits of docs/SECURITY.md against the real binary: each test starts a
// bridge of its own with a small limit, drives one client past it, and checks
// that the limit holds with its own close code or gRPC status, that /metrics
// counts the refusal, and that a well-behaved device and subscriber on the
// same bridge are not disturbed.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bridge/close_codes.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_metrics.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/raw_connection.h"
#include "tests/integration/support/wait_until.h"

namespace hive::integration {
namespace {

using hive::bridge::v1::SubscribeEventsRequest;
using ::testing::HasSubstr;

// Bounds a hang only: every wait on it is for something that comes at once.
constexpr absl::Duration kTimeout = absl::Seconds(10);

class LimitsTest : public BridgeTest {
 protected:
  // A bridge with `flags`, a device that acks requests and a subscriber to
  // that device's events.
  void StartWithHealthyDevice(std::vector<std::string> flags) {
    StartOwnBridge(std::move(flags));
    healthy_ = &Connect({.responder = Responder::Ack()});
    watcher_ = &SubscribeTo(*healthy_);
  }

  // The healthy device still gets a request through, and its events still
  // reach the subscriber.
  void ExpectHealthyUnaffected() {
    ASSERT_TRUE(healthy_->open()) << healthy_->Transcript() << "\n" << Log();
    ExpectAcked(*healthy_);
    const std::string marker = absl::StrCat("probe-", ++probes_);
    healthy_->Send(MarkedEvent("device-state", marker));
    EXPECT_TRUE(watcher_->NextMatching(WithMarker(marker), kTimeout).has_value())
        << "the subscriber missed the healthy device's event\n"
        << Log();
  }

  // hivebridge_limit_refusals_total{limit="<limit>"} from /metrics.
  uint64_t Refusals(absl::string_view limit) {
    return MetricValue(bridge(), absl::StrCat("hivebridge_limit_refusals_total{limit=\"", limit, "\"}"));
  }

  // A device that does not answer requests by itself, connected.
  TestDevice& ConnectSilent(std::string account_id = "") { return Connect({.account_id = std::move(account_id)}); }

  TestDevice* healthy_ = nullptr;
  EventStream* watcher_ = nullptr;
  int probes_ = 0;
};

// --- Connections ----------------------------------------------------------------

TEST_F(LimitsTest, ConnectionBeyondMaxConnectionsIsClosed1013AndOthersKeepWorking) {
  StartWithHealthyDevice({"--max-connections=2"});
  TestDevice& second = Connect();

  TestDevice& third = NewDevice();
  ASSERT_TRUE(third.Connect().ok()) << Log();

  ASSERT_TRUE(third.WaitClosed(kTimeout)) << third.Transcript();
  EXPECT_EQ(third.close_code(), close_code::kTryAgainLater) << third.Transcript();
  EXPECT_THAT(third.close_reason(), HasSubstr("try again later"));
  EXPECT_THAT(third.close_reason(), HasSubstr("--max-connections"));
  EXPECT_EQ(Refusals("max-connections"), 1u);
  ExpectHealthyUnaffected();

  // A place that frees up is taken again.
  second.Close();
  ASSERT_TRUE(second.WaitClosed(kTimeout));
  // The bridge frees the place as it handles the close, a moment after the device sees it.
  EXPECT_TRUE(WaitUntil([&] { return NewDevice().ConnectAndAuthenticate().ok(); }, "a new device is admitted"))
      << Log();
}

TEST_F(LimitsTest, DeviceBeyondMaxConnectionsPerAccountIsClosed4403WhileOtherAccountsConnect) {
  StartWithHealthyDevice({"--max-connections-per-account=2"});
  const std::string account = NewId();
  TestDevice& first = ConnectSilent(account);
  ConnectSilent(account);

  TestDevice& third = NewDevice({.account_id = account});
  ASSERT_TRUE(third.Connect().ok()) << Log();  // the upgrade succeeds; authentication does not

  ASSERT_TRUE(third.WaitClosed(kTimeout)) << third.Transcript();
  EXPECT_EQ(third.close_code(), close_code::kAccountFull) << third.Transcript();
  EXPECT_EQ(third.close_reason(),
            absl::StrCat("account ", account, " already has 2 devices connected (--max-connections-per-account)"));
  EXPECT_FALSE(third.NextOfType("authenticated", absl::ZeroDuration()).has_value()) << third.Transcript();
  EXPECT_FALSE(GetDevice(stub(), third.device_id()).ok());
  EXPECT_EQ(Refusals("max-connections-per-account"), 1u);
  // Another account has its own two places.
  Connect();
  Connect({.account_id = healthy_->account_id()});
  // A device of the full account that reconnects replaces its own
  // connection: it takes no further place.
  TestDevice& again = NewDevice({.device_id = first.device_id(), .account_id = account});
  EXPECT_TRUE(again.ConnectAndAuthenticate().ok()) << again.Transcript() << "\n" << Log();
  ASSERT_TRUE(first.WaitClosed(kTimeout));
  EXPECT_EQ(first.close_code(), close_code::kReplaced);
  ExpectHealthyUnaffected();
}

TEST_F(LimitsTest, ConnectionThatNeverCompletesTheUpgradeIsDroppedAfterTheHandshakeTimeout) {
  StartWithHealthyDevice({"--handshake-timeout=500ms"});
  const absl::Time opened = absl::Now();
  std::vector<RawConnection> slow;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<RawConnection> connection = RawConnection::Open(bridge().ws_port());
    ASSERT_TRUE(connection.ok()) << connection.status();
    slow.push_back(*std::move(connection));
  }
  // Not before its time: a close seen while less than the timeout has passed
  // since `opened` came early. (A slow run skips the check, it cannot fail it.)
  const bool closed_early = slow[2].WaitClosedByPeer(absl::Milliseconds(100));
  if (absl::Now() - opened < absl::Milliseconds(500)) {
    EXPECT_FALSE(closed_early) << "closed before its timeout";
  }
  // Slowloris: an upgrade request begun and never finished, one trickling
  // a header at a time, and one that sends nothing at all.
  ASSERT_TRUE(slow[0].Write("GET /v1/devices HTTP/1.1\r\nHost: 127.0.0.1\r\n").ok());
  ASSERT_TRUE(slow[1].Write("GET /v1/devices HTTP/1.1\r\n").ok());
  ExpectHealthyUnaffected();  // while they hang
  ASSERT_TRUE(slow[1].Write("Upgrade: websocket\r\n").ok());

  for (RawConnection& connection : slow) EXPECT_TRUE(connection.WaitClosedByPeer(kTimeout)) << Log();

  EXPECT_GE(absl::Now() - opened, absl::Milliseconds(450));
  EXPECT_EQ(AwaitMetricValue(bridge(), "hivebridge_limit_refusals_total{limit=\"handshake-timeout\"}", 3, kTimeout),
            3u);
  ExpectHealthyUnaffected();
}

TEST_F(LimitsTest, SilentDeviceIsClosed4410AfterTheIdleTimeoutWhileDevicesAnsweringPingsStay) {
  // Pings every 3 s. The silent device's idle timeout (4.5 s after it
  // authenticated) comes well before its pong timeout (no sooner than
  // 3 s + 2.9 s), and the healthy device's pongs have 1.5 s (idle timeout less
  // ping interval) to arrive before it would count as idle: margins of a
  // second and a half either way, for a loaded machine.
  StartWithHealthyDevice({"--ping-interval=3s", "--pong-timeout=2900ms", "--idle-timeout=4500ms"});
  const absl::Time before_connect = absl::Now();
  TestDevice& silent = Connect({.answer_pings = false});

  ASSERT_TRUE(silent.WaitClosed(kTimeout)) << silent.Transcript();
  const absl::Time closed = absl::Now();
  EXPECT_EQ(silent.close_code(), close_code::kIdle) << silent.Transcript();
  EXPECT_EQ(silent.close_reason(), "idle: nothing received for 4.5s");
  // The bridge last heard it after `before_connect`: the close cannot come sooner.
  EXPECT_GE(closed - before_connect, absl::Milliseconds(4500));
  EXPECT_EQ(Refusals("idle-timeout"), 1u);
  // The healthy device lives on: the bridge hears its pong to a ping sent
  // after the silent device was closed.
  EXPECT_TRUE(WaitUntil(
      [&] {
        hive::bridge::v1::GetDeviceResponse response;
        return GetDevice(stub(), healthy_->device_id(), &response).ok() &&
               absl::FromUnixNanos(google::protobuf::util::TimeUtil::TimestampToNanoseconds(
                   response.device().last_alive_at())) > closed;
      },
      "the healthy device answers a ping after the silent one was closed"))
      << Log();
  ExpectHealthyUnaffected();
}

// --- Events ---------------------------------------------------------------------

TEST_F(LimitsTest, DeviceFloodingPastTheEventRateGetsErrorsThenIsClosed4429) {
  StartWithHealthyDevice({"--device-event-rate=5", "--device-event-burst=5", "--max-bad-frames=3"});
  TestDevice& flooder = Connect();
  EventStream& flood = SubscribeTo(flooder);

  for (int i = 0; i < 50; ++i) flooder.Send(MarkedEvent("telemetry", absl::StrCat("flood-", i)));

  std::optional<std::string> error = flooder.NextOfType("error", kTimeout);
  ASSERT_TRUE(error.has_value()) << flooder.Transcript();
  EXPECT_THAT(*error, HasSubstr("rate limit: over 5 events/s (burst 5); event dropped"));
  ASSERT_TRUE(flooder.WaitClosed(kTimeout)) << flooder.Transcript();
  EXPECT_EQ(flooder.close_code(), close_code::kRateLimited) << flooder.Transcript();
  EXPECT_THAT(flooder.close_reason(), HasSubstr("over the event rate (5 events/s, burst 5)"));
  // The burst got through.
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(flood.NextMatching(WithMarker(absl::StrCat("flood-", i)), kTimeout).has_value()) << i;
  }
  EXPECT_GE(Refusals("device-event-rate"), 3u);
  EXPECT_EQ(Refusals("device-event-rate-close"), 1u);
  ExpectHealthyUnaffected();
}

TEST_F(LimitsTest, SubscriberBeyondMaxSubscribersIsResourceExhaustedWhileOthersStream) {
  StartWithHealthyDevice({"--max-subscribers=2"});
  std::unique_ptr<EventStream> second = std::make_unique<EventStream>(stub(), SubscribeEventsRequest());
  const std::string marker = "before-the-third";
  // The stream is opened asynchronously: wait until the bridge counts it.
  ASSERT_TRUE(WaitUntil([&] { return MetricValue(bridge(), "hivebridge_event_subscribers") == 2; },
                        "the bridge serves both subscribers"))
      << Log();
  healthy_->Send(MarkedEvent("device-state", marker));
  ASSERT_TRUE(second->NextMatching(WithMarker(marker), kTimeout).has_value()) << Log();

  // Refused at once; the deadline only bounds a hang.
  grpc::Status third = SubscribeStatus(stub(), SubscribeEventsRequest(), kTimeout);

  EXPECT_EQ(third.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << third.error_message();
  EXPECT_EQ(third.error_message(), "the bridge already serves 2 event subscribers (--max-subscribers); retry later");
  EXPECT_EQ(Refusals("max-subscribers"), 1u);
  ExpectHealthyUnaffected();

  // Once one leaves, a new one is accepted (it streams until its deadline).
  second.reset();
  const absl::Time deadline = absl::Now() + kTimeout;
  grpc::Status again;
  do {
    again = SubscribeStatus(stub(), SubscribeEventsRequest(), absl::Milliseconds(300));
  } while (again.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED && absl::Now() < deadline);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << again.error_message();
}

// --- Requests -------------------------------------------------------------------

TEST_F(LimitsTest, RequestBeyondMaxRequestsPerDeviceIsResourceExhaustedWhileOtherDevicesGetTheirs) {
  StartWithHealthyDevice({"--max-requests-per-device=2"});
  TestDevice& busy = ConnectSilent();
  PendingCall first(stub(), RequestTo(busy.device_id()));
  PendingCall second(stub(), RequestTo(busy.device_id()));
  std::optional<std::string> first_request = busy.NextOfType("device-request", kTimeout);
  ASSERT_TRUE(first_request.has_value()) << Log();
  ASSERT_TRUE(busy.NextOfType("device-request", kTimeout).has_value()) << Log();

  CallResult third = SendRequest(stub(), RequestTo(busy.device_id()));

  EXPECT_EQ(third.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << third;
  EXPECT_EQ(third.status.error_message(),
            absl::StrCat("device ", busy.device_id(),
                         " already has 2 requests in flight (--max-requests-per-device); retry once one completes"));
  EXPECT_EQ(busy.received_requests(), 2);
  EXPECT_EQ(Refusals("max-requests-per-device"), 1u);
  ExpectHealthyUnaffected();

  // An ack frees a place.
  busy.Ack(busy.received_request_ids()[0]);
  ASSERT_TRUE(WaitUntil([&] { return first.done() || second.done(); }, "the acked call completes")) << Log();
  PendingCall fourth(stub(), RequestTo(busy.device_id()));
  EXPECT_TRUE(busy.NextOfType("device-request", kTimeout).has_value()) << Log();
  EXPECT_EQ(busy.received_requests(), 3);
}

TEST_F(LimitsTest, RequestBeyondMaxPendingRequestsIsResourceExhaustedUntilOneCompletes) {
  StartWithHealthyDevice({"--max-pending-requests=3"});
  TestDevice& slow_a = ConnectSilent();
  TestDevice& slow_b = ConnectSilent();
  PendingCall a1(stub(), RequestTo(slow_a.device_id()));
  PendingCall a2(stub(), RequestTo(slow_a.device_id()));
  PendingCall b1(stub(), RequestTo(slow_b.device_id()));
  for (TestDevice* device : {&slow_a, &slow_a, &slow_b}) {
    ASSERT_TRUE(device->NextOfType("device-request", kTimeout).has_value()) << Log();
  }

  CallResult refused = SendRequest(stub(), RequestTo(healthy_->device_id()));

  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused;
  EXPECT_EQ(refused.status.error_message(),
            "the bridge already has 3 requests pending (--max-pending-requests); retry later");
  EXPECT_EQ(healthy_->received_requests(), 0);
  EXPECT_EQ(Refusals("max-pending-requests"), 1u);
  // Events are not requests: they still flow.
  const std::string marker = "while-full";
  healthy_->Send(MarkedEvent("device-state", marker));
  EXPECT_TRUE(watcher_->NextMatching(WithMarker(marker), kTimeout).has_value()) << Log();

  slow_b.Ack(slow_b.received_request_ids()[0]);
  std::optional<CallResult> done = b1.Wait(kTimeout);
  ASSERT_TRUE(done.has_value() && done->status.ok()) << Log();
  ExpectHealthyUnaffected();
}

}  // namespace
}  // namespace hive::integration

// SendDeviceRequest calls that wait for their device to connect
// (connect_timeout): how they end when the caller gives up while the device
// connects, when the call's deadline comes before the connect timeout, and
// when too many wait (--max-connect-waiters).
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_metrics.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/wait_until.h"

namespace hive::integration {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;

constexpr char kWaiters[] = "hivebridge_connect_waiters";

// A request to `device_id` that waits up to `connect_timeout` for it.
SendDeviceRequestRequest WaitingRequestTo(const std::string& device_id, absl::Duration connect_timeout) {
  SendDeviceRequestRequest request = RequestTo(device_id);
  request.mutable_connect_timeout()->set_seconds(absl::ToInt64Seconds(connect_timeout));
  request.mutable_connect_timeout()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(connect_timeout % absl::Seconds(1))));
  return request;
}

class ConnectWaitTest : public BridgeTest {
 protected:
  static void SetUpTestSuite() { StartSuiteBridge(); }
  static void TearDownTestSuite() { StopSuiteBridge(); }

  // Waits until at least `count` calls wait at the bridge for a device.
  void AwaitWaiters(uint64_t count) {
    ASSERT_TRUE(WaitUntil([&] { return MetricValue(bridge(), kWaiters) >= count; },
                          absl::StrCat(count, " calls waiting for their devices")))
        << Log();
  }
};

// The window this guards: a call waiting for its device is woken by the
// device's connect on a WebSocket thread while the caller cancels it on a
// gRPC thread. gRPC frees the call's request once the call is done, and the
// woken thread must not read it then (under ASan a use after free fails
// this test). Each round parks calls for offline devices, then connects the
// devices while cancelling the calls, some as the device starts to connect,
// some just after it connected, and gives others deadlines that run out
// around then. Every call must end exactly once with a definite status, and
// the bridge must go on serving.
TEST_F(ConnectWaitTest, CallsCancelledWhileTheirDevicesConnectAllEndOnceAndTheBridgeGoesOn) {
  constexpr int kRounds = 8;
  constexpr int kDevices = 16;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    std::vector<std::unique_ptr<TestDevice>> devices;
    // Per device: cancelled as it starts to connect, cancelled once it has
    // connected, and one whose deadline runs out around then.
    std::vector<std::unique_ptr<PendingCall>> cancel_early, cancel_late, short_deadline;
    for (int d = 0; d < kDevices; ++d) {
      devices.push_back(MakeDevice(bridge(), {.responder = Responder::Ack()}));
      const std::string& id = devices.back()->device_id();
      cancel_early.push_back(
          std::make_unique<PendingCall>(stub(), WaitingRequestTo(id, absl::Seconds(60)), absl::Seconds(60)));
      cancel_late.push_back(
          std::make_unique<PendingCall>(stub(), WaitingRequestTo(id, absl::Seconds(60)), absl::Seconds(60)));
    }
    // The calls to cancel wait at the bridge before any device connects.
    ASSERT_NO_FATAL_FAILURE(AwaitWaiters(2 * kDevices));
    for (int d = 0; d < kDevices; ++d) {
      short_deadline.push_back(std::make_unique<PendingCall>(
          stub(), WaitingRequestTo(devices[d]->device_id(), absl::Seconds(60)), absl::Milliseconds(5 + 7 * d)));
    }

    std::vector<absl::Notification> starting(kDevices), connected(kDevices);
    std::vector<absl::Status> connects(kDevices);
    std::thread connector([&] {
      for (int d = 0; d < kDevices; ++d) {
        starting[d].Notify();
        connects[d] = devices[d]->ConnectAndAuthenticate().status();
        connected[d].Notify();
      }
    });
    for (int d = 0; d < kDevices; ++d) {
      starting[d].WaitForNotification();
      cancel_early[d]->Cancel();
      connected[d].WaitForNotification();
      cancel_late[d]->Cancel();
    }
    connector.join();

    for (int d = 0; d < kDevices; ++d) {
      ASSERT_TRUE(connects[d].ok()) << connects[d] << "\n" << Log();
      for (PendingCall* call : {cancel_early[d].get(), cancel_late[d].get(), short_deadline[d].get()}) {
        std::optional<CallResult> result = call->Wait(kHangBound);
        ASSERT_TRUE(result.has_value()) << "a call never ended\n" << Log();
        EXPECT_THAT(result->status.error_code(),
                    AnyOf(grpc::StatusCode::OK, grpc::StatusCode::CANCELLED, grpc::StatusCode::DEADLINE_EXCEEDED))
            << *result;
        if (result->status.ok()) {
          EXPECT_EQ(result->response.status(), hive::bridge::v1::REQUEST_STATUS_ACKED);
        }
        EXPECT_EQ(call->completions(), 1);
      }
    }
    ASSERT_TRUE(bridge().running()) << Log();
    // Every device connected, so no call is left waiting for one.
    ASSERT_TRUE(WaitUntil([&] { return MetricValue(bridge(), kWaiters) == 0; }, "no call waiting")) << Log();
  }
  ExpectAcked(Connect({.responder = Responder::Ack()}));
}

TEST_F(ConnectWaitTest, CallDeadlineBeforeTheConnectTimeoutIsDeadlineExceededNotNotFound) {
  // The device never connects; the call's deadline (2 s) comes long before
  // its connect timeout (60 s).
  CallResult result = SendRequest(stub(), WaitingRequestTo(NewId(), absl::Seconds(60)), absl::Seconds(2));

  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << result;
  // The bridge answers a little before the deadline, saying which wait ran
  // out; on a machine too loaded to answer within that margin the caller's
  // own deadline says it instead (never NOT_FOUND).
  EXPECT_THAT(result.status.error_message(),
              AnyOf(HasSubstr("did not connect before the call's deadline"), "Deadline Exceeded"))
      << result;
}

TEST_F(ConnectWaitTest, ConnectTimeoutBeforeTheCallDeadlineIsStillNotFound) {
  CallResult result = SendRequest(stub(), WaitingRequestTo(NewId(), absl::Milliseconds(200)), absl::Seconds(10));

  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::NOT_FOUND) << result;
  EXPECT_THAT(result.status.error_message(), HasSubstr("is not connected")) << result;
}

class ConnectWaitLimitTest : public BridgeTest {};

TEST_F(ConnectWaitLimitTest, CallsBeyondMaxConnectWaitersAreResourceExhaustedNamingTheFlag) {
  StartOwnBridge({"--max-connect-waiters=2"});
  const std::string offline = NewId();
  PendingCall first(stub(), WaitingRequestTo(offline, absl::Seconds(60)), absl::Seconds(60));
  PendingCall second(stub(), WaitingRequestTo(NewId(), absl::Seconds(60)), absl::Seconds(60));
  ASSERT_TRUE(WaitUntil([&] { return MetricValue(bridge(), kWaiters) == 2; }, "two calls waiting")) << Log();

  CallResult third = SendRequest(stub(), WaitingRequestTo(NewId(), absl::Seconds(60)));

  EXPECT_EQ(third.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << third;
  EXPECT_EQ(third.status.error_message(),
            "the bridge already has 2 calls waiting for devices to connect (--max-connect-waiters)");
  EXPECT_EQ(MetricValue(bridge(), "hivebridge_limit_refusals_total{limit=\"max-connect-waiters\"}"), 1u);
  // A device that is connected needs no waiting place.
  ExpectAcked(Connect({.responder = Responder::Ack()}));
  // A waiting call its caller cancels gives its place back at once.
  second.Cancel();
  ASSERT_TRUE(second.Wait(kHangBound).has_value()) << Log();
  ASSERT_TRUE(WaitUntil([&] { return MetricValue(bridge(), kWaiters) == 1; }, "one call waiting")) << Log();
  PendingCall replacing(stub(), WaitingRequestTo(NewId(), absl::Seconds(60)), absl::Seconds(60));
  ASSERT_TRUE(WaitUntil([&] { return MetricValue(bridge(), kWaiters) == 2; }, "two calls waiting")) << Log();
  // A waiter woken by its device gives its place back.
  TestDevice& device = NewDevice({.device_id = offline, .responder = Responder::Ack()});
  ASSERT_TRUE(device.ConnectAndAuthenticate().ok()) << Log();
  std::optional<CallResult> woken = first.Wait(kHangBound);
  ASSERT_TRUE(woken.has_value()) << Log();
  EXPECT_TRUE(woken->status.ok()) << *woken;
  PendingCall again(stub(), WaitingRequestTo(NewId(), absl::Seconds(60)), absl::Seconds(60));
  ASSERT_TRUE(WaitUntil([&] { return MetricValue(bridge(), kWaiters) == 2; }, "two calls waiting again")) << Log();
}

}  // namespace
}  // namespace hive::integration

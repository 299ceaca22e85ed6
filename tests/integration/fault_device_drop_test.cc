// Issue #9, devices killed mid-request: several devices each have calls in
// flight, in both wait modes, some already acked, when three of them go at
// once: one with a closing handshake, one dropping TCP without a close frame
// (FIN), one with a TCP reset. Every call must end exactly once, long before
// its deadline, as docs say (docs/protocol.md#delivery-guarantee;
// RequestCorrelator::FailAllFor): an acked WAIT_MODE_ACK call stays ACKED;
// every other call to a lost device had its request written to the device,
// so it is ABORTED (delivered, outcome unknown). The other devices' calls,
// in flight at the same moment, all succeed. Once the two that had acked
// some are back under the same ids, a retry with the same request_id never
// sends anything again: the acked ones are answered by the stored outcome,
// the others (which the device received, acked or not) by ABORTED. Nothing
// the device received runs twice.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_metrics.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/json_assertions.h"
#include "tests/integration/support/raw_connection.h"

namespace hive::integration {
namespace {

using hive::bridge::v1::WaitMode;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

constexpr WaitMode kWaitAck = hive::bridge::v1::WAIT_MODE_ACK;
constexpr WaitMode kWaitResult = hive::bridge::v1::WAIT_MODE_RESULT;
constexpr auto kAcked = hive::bridge::v1::REQUEST_STATUS_ACKED;
constexpr auto kSucceeded = hive::bridge::v1::REQUEST_STATUS_SUCCEEDED;

// Per device: calls alternate ACK and RESULT; a lost device acks the first
// kAckedBeforeTheDrop (half of each mode) before it goes.
constexpr int kCallsPerDevice = 8;
constexpr int kAckedBeforeTheDrop = 4;
constexpr absl::Duration kCallDeadline = absl::Seconds(30);
// Bounds a hang only. Longer than the calls' deadline: a call that merely
// ran out of time shows by its status (DEADLINE_EXCEEDED), not by a clock.
constexpr absl::Duration kOutcomeTimeout = absl::Seconds(40);  // kCallDeadline + 10 s
constexpr absl::Duration kFrameTimeout = absl::Seconds(30);

// A device's calls, in the order they were made. (Every member has an
// initializer, so designated initializers may leave any of them out.)
struct DeviceCalls {
  std::string device_id{};
  std::string account_id{};
  std::vector<SendDeviceRequestRequest> requests{};
  std::vector<std::unique_ptr<PendingCall>> calls{};
};

class DeviceKilledMidRequestTest : public BridgeTest {
 protected:
  void SetUp() override { StartOwnBridge(); }

  DeviceCalls CallsTo(const std::string& device_id, const std::string& account_id) {
    DeviceCalls calls{.device_id = device_id, .account_id = account_id};
    for (int i = 0; i < kCallsPerDevice; ++i) {
      SendDeviceRequestRequest request = RequestTo(device_id, i % 2 == 0 ? kWaitAck : kWaitResult);
      request.set_request_id(NewId());
      calls.calls.push_back(std::make_unique<PendingCall>(stub(), request, kCallDeadline));
      calls.requests.push_back(std::move(request));
    }
    return calls;
  }

  // Every call of a device the test dropped ended once: acked ACK-mode
  // calls ACKED, the rest ABORTED saying the device may have it.
  void ExpectLostDeviceOutcomes(const DeviceCalls& lost) {
    for (int i = 0; i < kCallsPerDevice; ++i) {
      SCOPED_TRACE(absl::StrCat("device ", lost.device_id, " call ", i));
      std::optional<CallResult> result = lost.calls[i]->Wait(kOutcomeTimeout);
      ASSERT_TRUE(result.has_value()) << "still waiting after the device went\n" << Log();
      EXPECT_EQ(lost.calls[i]->completions(), 1);
      if (i < kAckedBeforeTheDrop && lost.requests[i].wait() == kWaitAck) {
        EXPECT_TRUE(result->status.ok()) << *result;
        EXPECT_EQ(result->response.status(), kAcked) << *result;
      } else {
        EXPECT_EQ(result->status.error_code(), grpc::StatusCode::ABORTED) << *result;
        EXPECT_THAT(result->status.error_message(), HasSubstr("will not send it again")) << *result;
      }
    }
  }

  // The device is back under its id: no retry reaches it. Retries of what
  // it acked get the stored ack (a result retry is ABORTED: only the device
  // can bring the result, and it will not run the request again); retries of
  // what it received but never acked are ABORTED.
  void ExpectRetriesAfterTheReconnect(const DeviceCalls& lost) {
    TestDevice& back =
        Connect({.device_id = lost.device_id, .account_id = lost.account_id, .responder = Responder::AckThenOk("{}")});
    std::vector<std::string> resent;
    for (int i = 0; i < kCallsPerDevice; ++i) {
      SCOPED_TRACE(absl::StrCat("retry of device ", lost.device_id, " call ", i));
      SendDeviceRequestRequest retry = lost.requests[i];
      if (i >= kAckedBeforeTheDrop) {
        CallResult result = SendRequest(stub(), retry);
        EXPECT_EQ(result.status.error_code(), grpc::StatusCode::ABORTED) << result;
        EXPECT_THAT(result.status.error_message(), HasSubstr("before the device acknowledged it")) << result;
        continue;
      }
      if (retry.wait() == kWaitResult) {
        CallResult aborted = SendRequest(stub(), retry);
        EXPECT_EQ(aborted.status.error_code(), grpc::StatusCode::ABORTED) << aborted;
        EXPECT_THAT(aborted.status.error_message(), HasSubstr("acknowledged by the device")) << aborted;
        retry.set_wait(kWaitAck);
      }
      CallResult result = SendRequest(stub(), retry);
      EXPECT_TRUE(result.status.ok()) << result;
      EXPECT_EQ(result.response.status(), kAcked) << result;
    }
    // A request with a new id is the next frame on the connection: any
    // second send of an acked request would have come before it.
    SendDeviceRequestRequest barrier = RequestTo(lost.device_id);
    barrier.set_request_id(NewId());
    ASSERT_TRUE(SendRequest(stub(), barrier).status.ok()) << Log();
    resent.push_back(barrier.request_id());
    EXPECT_THAT(back.received_request_ids(), UnorderedElementsAreArray(resent)) << back.Transcript();
  }
};

std::vector<std::string> RequestIds(const DeviceCalls& calls) {
  std::vector<std::string> ids;
  for (const SendDeviceRequestRequest& request : calls.requests) ids.push_back(request.request_id());
  return ids;
}

// The request ids of `count` device-request frames `device` receives.
std::vector<std::string> ReceiveRequests(TestDevice& device, int count) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) {
    std::optional<std::string> frame = device.NextOfType("device-request", kFrameTimeout);
    if (!frame.has_value()) AbortTest(absl::StrCat("device-request ", i, " never came\n", device.Transcript()));
    ids.push_back(StringField(*frame, "request"));
  }
  return ids;
}

TEST_F(DeviceKilledMidRequestTest, EveryCallEndsOnceSurvivorsSucceedAndRetriesNeverRunAnAckedRequestTwice) {
  // Survivors answer only once the others are gone, so their calls are in
  // flight at that moment.
  std::vector<TestDevice*> survivors;
  for (int i = 0; i < 3; ++i) survivors.push_back(&Connect());
  TestDevice& closer = Connect();
  TestDevice& dropper = Connect();
  const std::string resetter_id = NewId();
  const std::string resetter_account = NewId();
  absl::StatusOr<RawConnection> resetter =
      RawConnection::OpenWebSocket(bridge().ws_port(), bridge().MintToken(resetter_id, resetter_account));
  ASSERT_TRUE(resetter.ok()) << resetter.status() << "\n" << Log();
  AwaitListed(resetter_id);

  std::vector<DeviceCalls> survivor_calls;
  for (TestDevice* survivor : survivors) {
    survivor_calls.push_back(CallsTo(survivor->device_id(), survivor->account_id()));
  }
  DeviceCalls closer_calls = CallsTo(closer.device_id(), closer.account_id());
  DeviceCalls dropper_calls = CallsTo(dropper.device_id(), dropper.account_id());
  DeviceCalls resetter_calls = CallsTo(resetter_id, resetter_account);

  // Every request reached its lost device; two of them ack some, the one
  // that will be reset acks none.
  for (auto [device, calls] : {std::pair{&closer, &closer_calls}, std::pair{&dropper, &dropper_calls}}) {
    ASSERT_THAT(ReceiveRequests(*device, kCallsPerDevice), UnorderedElementsAreArray(RequestIds(*calls)));
    for (int i = 0; i < kAckedBeforeTheDrop; ++i) device->Ack(calls->requests[i].request_id());
    for (int i = 0; i < kAckedBeforeTheDrop; i += 2) {
      ASSERT_TRUE(calls->calls[i]->Wait(kFrameTimeout).has_value()) << Log();
    }
  }
  for (int i = 0; i < kCallsPerDevice; ++i) {
    ASSERT_TRUE(resetter->NextFrameOfOpcode(kTextOpcode, kFrameTimeout).has_value()) << i << "\n" << Log();
  }
  for (size_t s = 0; s < survivors.size(); ++s) {
    ASSERT_THAT(ReceiveRequests(*survivors[s], kCallsPerDevice),
                UnorderedElementsAreArray(RequestIds(survivor_calls[s])));
  }

  closer.Close(1000, "bye");
  dropper.Abort();
  resetter->Reset();
  for (size_t s = 0; s < survivors.size(); ++s) {
    for (const SendDeviceRequestRequest& request : survivor_calls[s].requests) {
      survivors[s]->Ack(request.request_id());
      survivors[s]->Succeed(request.request_id(), "{}");
    }
  }

  ExpectLostDeviceOutcomes(closer_calls);
  ExpectLostDeviceOutcomes(dropper_calls);
  for (int i = 0; i < kCallsPerDevice; ++i) {
    SCOPED_TRACE(absl::StrCat("reset device call ", i));
    std::optional<CallResult> result = resetter_calls.calls[i]->Wait(kOutcomeTimeout);
    ASSERT_TRUE(result.has_value()) << "still waiting after the reset\n" << Log();
    EXPECT_EQ(resetter_calls.calls[i]->completions(), 1);
    EXPECT_EQ(result->status.error_code(), grpc::StatusCode::ABORTED) << *result;
    EXPECT_THAT(result->status.error_message(), HasSubstr("the device may have received it")) << *result;
  }
  for (const DeviceCalls& calls : survivor_calls) {
    for (int i = 0; i < kCallsPerDevice; ++i) {
      SCOPED_TRACE(absl::StrCat("survivor ", calls.device_id, " call ", i));
      std::optional<CallResult> result = calls.calls[i]->Wait(kOutcomeTimeout);
      ASSERT_TRUE(result.has_value()) << Log();
      EXPECT_EQ(calls.calls[i]->completions(), 1);
      EXPECT_TRUE(result->status.ok()) << *result;
      EXPECT_EQ(result->response.status(), calls.requests[i].wait() == kWaitAck ? kAcked : kSucceeded) << *result;
    }
  }

  ExpectRetriesAfterTheReconnect(closer_calls);
  ExpectRetriesAfterTheReconnect(dropper_calls);
  EXPECT_EQ(MetricValue(bridge(), "hivebridge_requests_pending"), 0u);
}

}  // namespace
}  // namespace hive::integration

// Graceful shutdown end to end (drain, then close 1001;
// docs/architecture.md#graceful-shutdown): on SIGTERM the bridge stops being
// ready, refuses new work, lets in-flight requests finish within
// --drain-timeout, fails the rest UNAVAILABLE, ends every event stream with
// OK, closes every device with 1001 and exits 0.
#include <csignal>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/raw_connection.h"

namespace hive::integration {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kDrainTimeout = absl::Seconds(1);
// Bounds a hang only. Longer than the calls' own deadlines (20 s), so a call
// the drain failed to end shows as DEADLINE_EXCEEDED, not as a slow machine.
constexpr absl::Duration kHang = absl::Seconds(30);
constexpr absl::Duration kAckDelay = absl::Milliseconds(300);
constexpr int kGoingAway = 1001;

class ShutdownTest : public BridgeTest {
 protected:
  void SetUp() override { StartOwnBridge({"--drain-timeout=1s"}); }
};

TEST_F(ShutdownTest, SigtermDrainsInFlightRequestsThenClosesEverythingAndExitsZero) {
  constexpr int kCallsPerDevice = 4;
  std::vector<TestDevice*> acking = {&Connect({.responder = Responder::AckAfter(kAckDelay)}),
                                     &Connect({.responder = Responder::AckAfter(kAckDelay)}),
                                     &Connect({.responder = Responder::AckAfter(kAckDelay)})};
  std::vector<TestDevice*> silent = {&Connect(), &Connect()};
  EventStream& everything = Subscribe();
  SubscribeEventsRequest states;
  states.add_types("device-state");
  EventStream& filtered = Subscribe(states);
  // A first event proves each call reached the bridge before SIGTERM: a call
  // still on its way when draining starts is refused UNAVAILABLE, not ended OK.
  silent[0]->Send(R"({"type":"device-state","state":"online"})");
  for (EventStream* stream : {&everything, &filtered}) {
    ASSERT_TRUE(stream->Next(kHang).has_value()) << "an event stream never started\n" << Log();
  }
  // /readyz is asked on connections accepted now: once draining, the bridge
  // accepts no new ones.
  std::vector<RawConnection> probes;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<RawConnection> probe = RawConnection::Open(bridge().ws_port());
    ASSERT_TRUE(probe.ok()) << probe.status();
    probes.push_back(*std::move(probe));
  }
  ASSERT_EQ(probes[0].HttpGetStatus("/readyz", kHang), 200);

  std::vector<std::unique_ptr<PendingCall>> acked_calls;
  std::vector<std::unique_ptr<PendingCall>> stranded_calls;
  for (int i = 0; i < kCallsPerDevice; ++i) {
    for (TestDevice* device : acking) {
      acked_calls.push_back(std::make_unique<PendingCall>(stub(), RequestTo(device->device_id()), absl::Seconds(20)));
    }
    for (TestDevice* device : silent) {
      stranded_calls.push_back(
          std::make_unique<PendingCall>(stub(), RequestTo(device->device_id()), absl::Seconds(20)));
    }
  }
  for (TestDevice* device : silent) {
    for (int i = 0; i < kCallsPerDevice; ++i) {
      ASSERT_TRUE(device->NextOfType("device-request", kHang).has_value()) << Log();
    }
  }

  const absl::Time sigterm_at = absl::Now();
  bridge().Signal(SIGTERM);
  ASSERT_TRUE(bridge().WaitForLog("event=draining", kHang)) << Log();

  // Draining: not ready, and no new work.
  int readyz = -1;
  for (size_t i = 1; i < probes.size() && readyz != 503; ++i) readyz = probes[i].HttpGetStatus("/readyz", kHang);
  EXPECT_EQ(readyz, 503);
  CallResult refused = SendRequest(stub(), RequestTo(acking[0]->device_id()));
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAVAILABLE) << refused;
  EXPECT_EQ(SubscribeStatus(stub(), {}).error_code(), grpc::StatusCode::UNAVAILABLE);

  const absl::Time answer_by = sigterm_at + kHang;
  for (const auto& call : acked_calls) {
    std::optional<CallResult> result = call->Wait(answer_by - absl::Now());
    ASSERT_TRUE(result.has_value()) << "a call to an acking device hangs\n" << Log();
    EXPECT_TRUE(result->status.ok()) << *result;
    EXPECT_EQ(result->response.status(), hive::bridge::v1::REQUEST_STATUS_ACKED) << *result;
  }
  for (const auto& call : stranded_calls) {
    std::optional<CallResult> result = call->Wait(answer_by - absl::Now());
    ASSERT_TRUE(result.has_value()) << "a call to a silent device hangs\n" << Log();
    EXPECT_EQ(result->status.error_code(), grpc::StatusCode::UNAVAILABLE) << *result;
    EXPECT_THAT(result->status.error_message(), HasSubstr("shutting down")) << *result;
    EXPECT_GE(result->elapsed, kDrainTimeout - absl::Milliseconds(100)) << "failed before the drain timeout";
  }
  for (EventStream* stream : {&everything, &filtered}) {
    std::optional<grpc::Status> end = stream->WaitFinished(answer_by - absl::Now());
    ASSERT_TRUE(end.has_value()) << "an event stream is still open\n" << Log();
    EXPECT_TRUE(end->ok()) << end->error_code() << " " << end->error_message();
  }
  for (std::vector<TestDevice*>* group : {&acking, &silent}) {
    for (TestDevice* device : *group) {
      ASSERT_TRUE(device->WaitClosed(kHang)) << device->Transcript() << "\n" << Log();
      EXPECT_EQ(device->close_code(), kGoingAway) << device->Transcript();
    }
  }
  EXPECT_EQ(bridge().Wait(kHang), std::optional<int>(0)) << Log();
}

TEST_F(ShutdownTest, CallWaitingForAnOfflineDeviceIsUnavailableAtShutdown) {
  SendDeviceRequestRequest request = RequestTo(NewId());
  request.mutable_connect_timeout()->set_seconds(30);
  PendingCall call(stub(), request, absl::Seconds(60));
  // A later call on the same channel: once it is answered, the first one is
  // waiting at the bridge.
  ASSERT_EQ(SendRequest(stub(), RequestTo(NewId())).status.error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_FALSE(call.done());

  const absl::Time sigterm_at = absl::Now();
  bridge().Signal(SIGTERM);

  std::optional<CallResult> result = call.Wait(sigterm_at + kHang - absl::Now());
  ASSERT_TRUE(result.has_value()) << "still waiting " << absl::FormatDuration(absl::Now() - sigterm_at)
                                  << " after SIGTERM\n"
                                  << Log();
  EXPECT_EQ(result->status.error_code(), grpc::StatusCode::UNAVAILABLE) << *result;
  EXPECT_THAT(result->status.error_message(), HasSubstr("shutting down")) << *result;
  EXPECT_EQ(bridge().Wait(kHang), std::optional<int>(0)) << Log();
}

}  // namespace
}  // namespace hive::integration

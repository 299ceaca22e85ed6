#include "bridge/bus/request_router.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "bridge/bus/cluster_messages.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/bus/fake_local_devices.h"
#include "tests/unit/support/fake_clock.h"

namespace hive {
namespace {

using testing::DeviceOn;

using hive::bridge::v1::SendDeviceRequestRequest;
using hive::bridge::v1::SendDeviceRequestResponse;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kSelf[] = "replica-1";
constexpr char kTraceparent[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

SendDeviceRequestRequest RequestTo(const std::string& device_id) {
  SendDeviceRequestRequest request;
  request.set_device_id(device_id);
  request.set_account_id("acc");
  request.set_request_id("r-1");
  return request;
}

// The router without a broker: what it does with requests other replicas
// route here, with their answers, and with what the broker returns.
class RequestRouterTest : public ::testing::Test {
 protected:
  RequestRouterTest()
      : router_({kSelf, /*audit=*/false, absl::Seconds(1)}, clock_, signatures_, local_, fleet_,
                std::make_shared<Wakeup>()) {}

  void Deliver(absl::string_view consumer, AmqpMessage message) {
    AmqpDelivery delivery;
    delivery.channel = 1;
    delivery.consumer = std::string(consumer);
    delivery.message = std::move(message);
    ASSERT_TRUE(router_.OnDelivery(std::move(delivery)).ok());
  }

  // Routes a request here from another replica.
  void RoutedHere(const std::string& device_id) {
    Deliver("requests", cluster::EncodeRoutedRequest(RequestTo(device_id), absl::Seconds(7), "call-1",
                                                     cluster::ReplyQueueOf("replica-2"), kTraceparent));
  }

  // Routes a request from here; its outcome lands in `outcome`.
  std::string RouteFromHere(const std::string& device_id, const std::string& replica,
                            std::optional<absl::StatusOr<SendDeviceRequestResponse>>& outcome) {
    return router_.Route(RequestTo(device_id), replica, clock_.Now() + absl::Seconds(10), "",
                         [&outcome](absl::StatusOr<SendDeviceRequestResponse> result) { outcome = std::move(result); });
  }

  testing::FakeClock clock_;
  ClusterSignatures signatures_{nullptr, clock_};
  testing::FakeLocalDevices local_;
  FleetDirectory fleet_{clock_};
  RequestRouter router_;
};

TEST_F(RequestRouterTest, RequestRoutedHereReachesTheLocalDeviceWithItsTraceAndTimeout) {
  local_.Connect(DeviceOn(kSelf, "d1"));
  RoutedHere("d1");
  ASSERT_THAT(local_.delivered, SizeIs(1));
  EXPECT_EQ(local_.delivered[0].request.device_id(), "d1");
  EXPECT_EQ(local_.delivered[0].traceparent, kTraceparent);
  EXPECT_EQ(local_.delivered[0].deadline, clock_.Now() + absl::Seconds(7));
}

TEST_F(RequestRouterTest, RequestForADeviceNotHereOrAnnouncedElsewhereIsNotDelivered) {
  RoutedHere("absent");
  local_.Connect(DeviceOn(kSelf, "moved"));
  fleet_.Connected(DeviceOn("replica-3", "moved"));
  RoutedHere("moved");
  EXPECT_THAT(local_.delivered, SizeIs(0));
}

TEST_F(RequestRouterTest, AnswerCompletesTheRoutedCallWithTheHoldersOutcome) {
  std::optional<absl::StatusOr<SendDeviceRequestResponse>> outcome;
  const std::string call = RouteFromHere("d2", "replica-2", outcome);
  EXPECT_EQ(router_.pending(), 1u);
  SendDeviceRequestResponse response;
  response.set_request_id("r-1");
  Deliver("answers", cluster::EncodeAnswer({response, "replica-2", true}, call));
  ASSERT_TRUE(outcome.has_value());
  ASSERT_TRUE(outcome->ok()) << outcome->status();
  EXPECT_EQ((*outcome)->request_id(), "r-1");
  EXPECT_EQ(router_.pending(), 0u);
}

TEST_F(RequestRouterTest, ReturnedRequestIsNotFoundUnlessItsHolderWasHeardLately) {
  std::optional<absl::StatusOr<SendDeviceRequestResponse>> gone;
  AmqpMessage returned;
  returned.correlation_id = RouteFromHere("d2", "replica-2", gone);
  router_.OnReturn("d2", returned);
  ASSERT_TRUE(gone.has_value());
  EXPECT_EQ(gone->status().code(), absl::StatusCode::kNotFound);

  // Seen on replica-2, heard just now: only not bound yet.
  fleet_.Connected(DeviceOn("replica-2", "d3"));
  std::optional<absl::StatusOr<SendDeviceRequestResponse>> rebinding;
  returned.correlation_id = RouteFromHere("d3", "replica-2", rebinding);
  router_.OnReturn("d3", returned);
  ASSERT_TRUE(rebinding.has_value());
  EXPECT_EQ(rebinding->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(rebinding->status().message(), HasSubstr("not reachable through the broker right now"));
}

TEST_F(RequestRouterTest, UnhealthyBrokerOrLostConnectionFailsTheCallsInFlightUnavailable) {
  std::optional<absl::StatusOr<SendDeviceRequestResponse>> first;
  std::optional<absl::StatusOr<SendDeviceRequestResponse>> second;
  RouteFromHere("d2", "replica-2", first);
  router_.OnHealthChanged(false, BrokerState::kBlocked);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(first->status().message(), HasSubstr("blocked"));
  RouteFromHere("d2", "replica-2", second);
  router_.OnConnectionEnded(/*stopped=*/false);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(RequestRouterTest, CallsOfAReplicaTakenForGoneFailAndOthersWait) {
  std::optional<absl::StatusOr<SendDeviceRequestResponse>> to_gone;
  std::optional<absl::StatusOr<SendDeviceRequestResponse>> to_other;
  RouteFromHere("d2", "replica-2", to_gone);
  RouteFromHere("d3", "replica-3", to_other);
  router_.FailReplica("replica-2", absl::UnavailableError("replica replica-2 shut down"));
  ASSERT_TRUE(to_gone.has_value());
  EXPECT_EQ(to_gone->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(to_other.has_value());
  EXPECT_EQ(router_.pending(), 1u);
}

}  // namespace
}  // namespace hive

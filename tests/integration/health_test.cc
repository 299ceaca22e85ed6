// The standard gRPC health service answers for the server ("") and for the
// bridge's service by name ("hive.bridge.v1.DeviceBridge", as
// grpc-health-probe -service, Envoy and client-side health checking ask),
// both following readiness: SERVING when ready, NOT_SERVING from the start of
// a drain; an unknown service is NOT_FOUND. Watch streams the same changes.
#include <csignal>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/grpc_calls.h"
#include "tests/integration/support/health_check.h"
#include "tests/integration/support/wait_until.h"

namespace hive::integration {
namespace {

using grpc::health::v1::HealthCheckResponse;

constexpr char kService[] = "hive.bridge.v1.DeviceBridge";

class HealthTest : public BridgeTest {
 protected:
  // A drain that lasts until the test ends: a request a silent device never
  // answers holds it open for --drain-timeout.
  void SetUp() override {
    StartOwnBridge({"--drain-timeout=5m"});
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", bridge().grpc_port()), grpc::InsecureChannelCredentials());
  }

  void StartDraining() {
    TestDevice& silent = Connect();
    pending_ = std::make_unique<PendingCall>(stub(), RequestTo(silent.device_id()), absl::Minutes(5));
    ASSERT_TRUE(silent.NextOfType("device-request", kHangBound).has_value()) << Log();
    bridge().Signal(SIGTERM);
    ASSERT_TRUE(bridge().WaitForLog("event=draining", kHangBound)) << Log();
  }

  ::testing::AssertionResult AwaitStatus(const std::string& service, ServingStatus wanted) {
    return WaitUntil([&] { return CheckHealth(channel_, service).serving == wanted; },
                     absl::StrCat("health of \"", service, "\" is ", HealthCheckResponse::ServingStatus_Name(wanted)));
  }

  void TearDown() override {
    pending_.reset();  // cancels the call that holds the drain open
    BridgeTest::TearDown();
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<PendingCall> pending_;
};

TEST_F(HealthTest, ServerAndServiceAreServingWhenReady) {
  for (const std::string service : {"", kService}) {
    EXPECT_TRUE(AwaitStatus(service, HealthCheckResponse::SERVING)) << Log();
    HealthAnswer answer = CheckHealth(channel_, service);
    EXPECT_TRUE(answer.status.ok()) << service << ": " << answer.status.error_message();
  }
}

TEST_F(HealthTest, UnknownServiceIsNotFound) {
  HealthAnswer answer = CheckHealth(channel_, "hive.bridge.v1.NoSuchService");

  EXPECT_EQ(answer.status.error_code(), grpc::StatusCode::NOT_FOUND) << answer.status.error_message();
}

TEST_F(HealthTest, ServerAndServiceAreNotServingWhileDraining) {
  ASSERT_TRUE(AwaitStatus(kService, HealthCheckResponse::SERVING)) << Log();

  StartDraining();

  for (const std::string service : {"", kService}) {
    HealthAnswer answer = CheckHealth(channel_, service);
    EXPECT_TRUE(answer.status.ok()) << service << ": " << answer.status.error_message() << "\n" << Log();
    EXPECT_EQ(answer.serving, HealthCheckResponse::NOT_SERVING) << service;
  }
}

TEST_F(HealthTest, WatchOfTheServiceSeesServingThenNotServingWhenTheDrainStarts) {
  ASSERT_TRUE(AwaitStatus(kService, HealthCheckResponse::SERVING)) << Log();
  HealthWatch watch(channel_, kService);
  ASSERT_EQ(watch.Next(kHangBound), std::optional<ServingStatus>(HealthCheckResponse::SERVING)) << Log();

  StartDraining();

  EXPECT_EQ(watch.Next(kHangBound), std::optional<ServingStatus>(HealthCheckResponse::NOT_SERVING)) << Log();
}

}  // namespace
}  // namespace hive::integration

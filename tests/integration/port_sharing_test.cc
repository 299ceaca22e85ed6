// A second bridge started on a port of a running one refuses to start,
// naming the port, instead of sharing it through SO_REUSEPORT: the kernel
// would otherwise split the connections between the two. On the device port
// a device sent to the one that does not know its secret is refused ("token
// signature is invalid", as two tests once saw when their bridges drew the
// same free port); on the gRPC and HTTP ports each bridge would serve half
// the backends' calls with half the fleet. The running bridge keeps serving.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_test.h"

namespace hive::integration {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class PortSharingTest : public BridgeTest {
 protected:
  void SetUp() override { StartOwnBridge({"--http-listen=127.0.0.1:0", "--http-gateway-without-policy=true"}); }

  // Starts a second bridge with `flags` (its own secret and free ports but
  // these; the last of a repeated flag counts) and expects it to stop at
  // start-up with `error`.
  void ExpectRefused(const std::vector<std::string>& flags, const std::string& error) {
    absl::StatusOr<std::unique_ptr<BridgeProcess>> second = BridgeProcess::Start(flags);
    ASSERT_FALSE(second.ok()) << "a second bridge started with " << absl::StrJoin(flags, " ");
    const std::string why(second.status().message());
    EXPECT_THAT(why, HasSubstr("exited with status 1 before it started"));
    EXPECT_THAT(why, HasSubstr(absl::StrCat("event=start_failed error=\"", error))) << why;
  }

  // The first bridge still serves devices and calls, and refused no device.
  void ExpectTheFirstServesEveryone() {
    // Connect() throws unless the device is authenticated and listed.
    for (int i = 0; i < 10; ++i) Connect();
    EXPECT_THAT(Log(), Not(HasSubstr("device_auth_failed"))) << Log();
  }
};

TEST_F(PortSharingTest, ASecondBridgeOnTheDevicePortRefusesToStart) {
  const std::string port = absl::StrCat(bridge().ws_port());
  ExpectRefused({"--ws-listen=127.0.0.1:" + port},
                absl::StrCat("cannot listen on 127.0.0.1:", port, ": another process already listens on port ", port));
  ExpectTheFirstServesEveryone();
}

TEST_F(PortSharingTest, ASecondBridgeOnTheGrpcPortRefusesToStart) {
  const std::string port = absl::StrCat(bridge().grpc_port());
  ExpectRefused({"--grpc-listen=127.0.0.1:" + port}, "cannot listen for gRPC on 127.0.0.1:" + port);
  ExpectTheFirstServesEveryone();
}

TEST_F(PortSharingTest, ASecondBridgeOnTheHttpPortRefusesToStart) {
  const std::string port = absl::StrCat(bridge().http_port());
  ExpectRefused({"--http-listen=127.0.0.1:" + port, "--http-gateway-without-policy=true"},
                "--http-listen: cannot listen on 127.0.0.1:" + port);
  ExpectTheFirstServesEveryone();
}

}  // namespace
}  // namespace hive::integration

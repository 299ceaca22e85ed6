// `hivectl health` against a real bridge: the real hivectl binary asks the
// bridge's standard gRPC health service (grpc.health.v1.Health/Check) and
// exits 0 only when it answers SERVING. A draining bridge answers
// NOT_SERVING (exit 1, saying so); a port nobody listens on is UNAVAILABLE
// (exit 24) and an unknown --service NOT_FOUND (exit 15), each with a message
// naming the bridge.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge/uuid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/child_process.h"
#include "tests/integration/support/grpc_calls.h"
#include "tests/integration/support/health_check.h"
#include "tests/integration/support/run_command.h"
#include "tests/integration/support/wait_until.h"

namespace hive::integration {
namespace {

using grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;
using ::testing::Not;

// hivectl's exit statuses (hivectl --help).
constexpr int kExitNotServing = 1;
constexpr int kExitNotFound = 10 + 5;
constexpr int kExitUnavailable = 10 + 14;

// One finished run of hivectl: its exit status and what it printed (stdout
// and stderr together).
struct HivectlRun {
  int exit = -1;
  std::string output;
};

HivectlRun Hivectl(std::vector<std::string> args) {
  const std::string log = absl::StrCat(::testing::TempDir(), "/hivectl-health-", NewUuid());
  args.insert(args.begin(), HIVECTL_BINARY);
  absl::StatusOr<int> exit = RunCommand(std::move(args), {}, log);
  HivectlRun run;
  run.output = ReadFile(log);
  std::remove(log.c_str());
  EXPECT_TRUE(exit.ok()) << exit.status();
  if (exit.ok()) run.exit = *exit;
  return run;
}

// A loopback port bound but never listened on, so connecting is refused,
// and no other process can take it while the object lives.
class RefusingPort {
 public:
  RefusingPort() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
    auto* generic = reinterpret_cast<sockaddr*>(&address);
    if (fd_ < 0 || bind(fd_, generic, length) != 0 || getsockname(fd_, generic, &length) != 0) {
      ADD_FAILURE() << "cannot bind a loopback port";
    }
    port_ = ntohs(address.sin_port);
  }
  ~RefusingPort() {
    if (fd_ >= 0) close(fd_);
  }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;

  int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

class HivectlHealthTest : public BridgeTest {
 protected:
  // A drain that lasts until the test ends: a request a silent device never
  // answers holds it open for --drain-timeout.
  void SetUp() override { StartOwnBridge({"--drain-timeout=5m"}); }

  void StartDraining() {
    TestDevice& silent = Connect();
    pending_ = std::make_unique<PendingCall>(stub(), RequestTo(silent.device_id()), absl::Minutes(5));
    ASSERT_TRUE(silent.NextOfType("device-request", kHangBound).has_value()) << Log();
    bridge().Signal(SIGTERM);
    ASSERT_TRUE(bridge().WaitForLog("event=draining", kHangBound)) << Log();
    // The bridge logs the drain just before its health turns: wait for that
    // here, so hivectl is asked afterwards.
    auto channel = grpc::CreateChannel(server(), grpc::InsecureChannelCredentials());
    ASSERT_TRUE(WaitUntil([&] { return CheckHealth(channel, "").serving == HealthCheckResponse::NOT_SERVING; },
                          "the bridge's health is NOT_SERVING"))
        << Log();
  }

  void TearDown() override {
    pending_.reset();  // cancels the call that holds the drain open
    BridgeTest::TearDown();
  }

  std::string server() { return absl::StrCat("127.0.0.1:", bridge().grpc_port()); }

  std::unique_ptr<PendingCall> pending_;
};

TEST_F(HivectlHealthTest, AReadyBridgeIsServingForTheServerAndTheBridgeService) {
  HivectlRun server_health = Hivectl({"health", "--server", server()});
  EXPECT_EQ(server_health.exit, 0) << server_health.output << Log();
  EXPECT_EQ(server_health.output, "SERVING\n");

  HivectlRun service_health =
      Hivectl({"health", "--service", "hive.bridge.v1.DeviceBridge", "--server", server(), "-o", "json"});
  EXPECT_EQ(service_health.exit, 0) << service_health.output << Log();
  EXPECT_EQ(service_health.output, "{\"status\":\"SERVING\"}\n");
}

TEST_F(HivectlHealthTest, ADrainingBridgeIsNotServingAndExitsOne) {
  ASSERT_EQ(Hivectl({"health", "--server", server()}).exit, 0) << Log();

  StartDraining();

  for (const std::string service : {"", "hive.bridge.v1.DeviceBridge"}) {
    std::vector<std::string> args = {"health", "--server", server()};
    if (!service.empty()) args.push_back("--service=" + service);
    HivectlRun run = Hivectl(args);
    EXPECT_EQ(run.exit, kExitNotServing) << service << ": " << run.output << Log();
    EXPECT_THAT(run.output, HasSubstr("NOT_SERVING\n")) << service;
    EXPECT_THAT(run.output, HasSubstr(absl::StrCat("hivectl: the bridge at ", server())));
    EXPECT_THAT(run.output, HasSubstr("is NOT_SERVING: it is draining or not ready yet")) << service;
  }
}

TEST_F(HivectlHealthTest, AnUnknownServiceIsNotFound) {
  HivectlRun run = Hivectl({"health", "--server", server(), "--service", "hive.bridge.v1.NoSuchService"});

  EXPECT_EQ(run.exit, kExitNotFound) << run.output;
  EXPECT_THAT(run.output, HasSubstr("hivectl: NOT_FOUND: the bridge at " + server() +
                                    " has no service \"hive.bridge.v1.NoSuchService\" (--service)"));
  EXPECT_THAT(run.output, Not(HasSubstr("SERVING")));
}

TEST(HivectlHealthUnreachableTest, ABridgeNobodyListensForIsUnavailable) {
  RefusingPort refusing;
  const std::string server = absl::StrCat("127.0.0.1:", refusing.port());

  HivectlRun run = Hivectl({"health", "--server", server, "--timeout", "20s"});

  EXPECT_EQ(run.exit, kExitUnavailable) << run.output;
  EXPECT_THAT(run.output, HasSubstr("hivectl: UNAVAILABLE: cannot reach the bridge at " + server + ": "));
  EXPECT_THAT(run.output, Not(HasSubstr("SERVING")));
}

}  // namespace
}  // namespace hive::integration

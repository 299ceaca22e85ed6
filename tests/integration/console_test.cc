// The operators' web console (docs/protocol.md#web-console) and the gateway's
// health endpoint, against a real bridge with cpp-httplib's client: the page
// and its files with their types and security headers, 404 for a file not
// embedded, no console without the gateway, and GET /api/v1/health following
// gRPC health (SERVING, NOT_SERVING with 503 while draining).
#include <httplib.h>

#include <csignal>
#include <fstream>
#include <memory>
#include <string>

#include "bridge/uuid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_process.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/grpc_calls.h"
#include "tests/integration/support/test_device.h"
#include "tests/integration/support/wait_until.h"

namespace hive::integration {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kToken[] = "console-test-token-0123456789";

// A bridge with the gateway and a backend policy (so the console is shown to
// be served without a token, while the API it calls still wants one).
class ConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    policy_path_ = ::testing::TempDir() + "/console-policy-" + NewUuid();
    std::ofstream(policy_path_) << "ops token:" << kToken << " *\n";
    absl::StatusOr<std::unique_ptr<BridgeProcess>> bridge =
        BridgeProcess::Start({"--http-listen=127.0.0.1:0", "--backend-policy-file=" + policy_path_});
    ASSERT_TRUE(bridge.ok()) << bridge.status();
    bridge_ = *std::move(bridge);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", bridge_->http_port());
  }
  void TearDown() override { std::remove(policy_path_.c_str()); }

  httplib::Result Get(const std::string& path) { return client_->Get(path); }

  static void ExpectSecurityHeaders(const httplib::Response& response) {
    EXPECT_EQ(response.get_header_value("Content-Security-Policy"), "default-src 'self'");
    EXPECT_EQ(response.get_header_value("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(response.get_header_value("Referrer-Policy"), "no-referrer");
    EXPECT_EQ(response.get_header_value("X-Frame-Options"), "DENY");
  }

  std::string policy_path_;
  std::unique_ptr<BridgeProcess> bridge_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(ConsoleTest, ThePageIsHtmlWithTheSecurityHeadersAndNeedsNoToken) {
  httplib::Result page = Get("/console/");
  ASSERT_TRUE(page) << httplib::to_string(page.error());
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  ExpectSecurityHeaders(*page);
  EXPECT_THAT(page->body, StartsWith("<!doctype html>"));
  EXPECT_THAT(page->body, HasSubstr(R"(<script type="module" src="console.js"></script>)"));
  // No inline script or style: the CSP would block it.
  EXPECT_THAT(page->body, ::testing::Not(HasSubstr("<style")));
  EXPECT_THAT(page->body, ::testing::Not(HasSubstr("<script>")));

  // The API behind it still wants the policy's token.
  httplib::Result devices = Get("/api/v1/devices");
  ASSERT_TRUE(devices);
  EXPECT_EQ(devices->status, 401);
}

TEST_F(ConsoleTest, TheBarePathRedirectsToTheDirectory) {
  httplib::Result bare = Get("/console");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->status, 301);
  EXPECT_EQ(bare->get_header_value("Location"), "/console/");
  ExpectSecurityHeaders(*bare);
}

TEST_F(ConsoleTest, ScriptsAndStylesHaveTheirTypes) {
  for (const char* script : {"/console/console.js", "/console/api.js", "/console/sse.js"}) {
    httplib::Result js = Get(script);
    ASSERT_TRUE(js) << script;
    EXPECT_EQ(js->status, 200) << script;
    EXPECT_EQ(js->get_header_value("Content-Type"), "text/javascript; charset=utf-8") << script;
    ExpectSecurityHeaders(*js);
  }
  httplib::Result css = Get("/console/console.css");
  ASSERT_TRUE(css);
  EXPECT_EQ(css->status, 200);
  EXPECT_EQ(css->get_header_value("Content-Type"), "text/css; charset=utf-8");
}

TEST_F(ConsoleTest, AFileNotEmbeddedIs404WithTheGatewaysErrorBody) {
  for (const std::string path : {"/console/nope", "/console/../server/main.cc", "/console/index.html/x"}) {
    httplib::Result missing = Get(path);
    ASSERT_TRUE(missing) << path;
    EXPECT_EQ(missing->status, 404) << path;
    EXPECT_THAT(missing->body, StartsWith(R"({"code":5,"message":"no such file: )")) << path;
    ExpectSecurityHeaders(*missing);
  }
}

TEST_F(ConsoleTest, HealthIsServingByServerAndByServiceName) {
  for (const std::string path : {"/api/v1/health", "/api/v1/health?service=hive.bridge.v1.DeviceBridge"}) {
    httplib::Result health = Get(path);
    ASSERT_TRUE(health) << path;
    EXPECT_EQ(health->status, 200) << path;
    EXPECT_EQ(health->body, R"({"status":"SERVING"})") << path;
  }
  httplib::Result unknown = Get("/api/v1/health?service=hive.bridge.v1.NoSuchService");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(unknown->body, R"({"code":5,"message":"service name unknown","details":[]})");
  httplib::Result bad = Get("/api/v1/health?color=red");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

// A drain held open by a request a silent device never answers: health is
// NOT_SERVING, answered 503 so a plain HTTP probe sees it.
TEST(ConsoleHealth, WhileDrainingHealthIsNotServingWith503) {
  absl::StatusOr<std::unique_ptr<BridgeProcess>> bridge =
      BridgeProcess::Start({"--http-listen=127.0.0.1:0", "--http-gateway-without-policy=true", "--drain-timeout=5m"});
  ASSERT_TRUE(bridge.ok()) << bridge.status();
  std::unique_ptr<DeviceBridge::Stub> stub = (*bridge)->NewStub();
  std::unique_ptr<TestDevice> silent = MakeDevice(**bridge, {});
  ConnectListed(*silent, **bridge, *stub);
  auto pending = std::make_unique<PendingCall>(*stub, RequestTo(silent->device_id()), absl::Minutes(5));
  ASSERT_TRUE(silent->NextOfType("device-request", kHangBound).has_value()) << (*bridge)->Log();
  (*bridge)->Signal(SIGTERM);
  ASSERT_TRUE((*bridge)->WaitForLog("event=draining", kHangBound)) << (*bridge)->Log();

  httplib::Client client("127.0.0.1", (*bridge)->http_port());
  httplib::Result health = client.Get("/api/v1/health");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 503);
  EXPECT_EQ(health->body, R"({"status":"NOT_SERVING"})");
  pending.reset();  // cancels the call that holds the drain open
}

TEST(ConsoleOff, WithoutTheGatewayThereIsNoConsoleNotEvenOnTheDevicePort) {
  absl::StatusOr<std::unique_ptr<BridgeProcess>> bridge = BridgeProcess::Start();
  ASSERT_TRUE(bridge.ok()) << bridge.status();
  EXPECT_EQ((*bridge)->http_port(), 0);
  httplib::Client client("127.0.0.1", (*bridge)->ws_port());
  for (const char* path : {"/console/", "/console/console.js"}) {
    httplib::Result page = client.Get(path);
    ASSERT_TRUE(page) << path;
    EXPECT_EQ(page->status, 404) << path;
    EXPECT_THAT(page->body, ::testing::Not(HasSubstr("<!doctype html>"))) << path;
  }
}

}  // namespace
}  // namespace hive::integration

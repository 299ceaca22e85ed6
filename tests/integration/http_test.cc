// Plain HTTP on the WebSocket port (docs/protocol.md §1): health, readiness
// and metrics, 426 for a plain GET of the device path, 404 elsewhere.
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/raw_connection.h"
#include "tests/integration/support/route_case.h"

namespace hive::integration {
namespace {

using integration::operator<<;
using ::testing::HasSubstr;

constexpr absl::Duration kHttpTimeout = absl::Seconds(3);

class HttpTest : public BridgeTest {
 protected:
  static void SetUpTestSuite() { StartSuiteBridge(); }
  static void TearDownTestSuite() { StopSuiteBridge(); }

  RawConnection::HttpResponse Get(const std::string& path) {
    absl::StatusOr<RawConnection> connection = RawConnection::Open(bridge().ws_port());
    if (!connection.ok()) AbortTest(connection.status().ToString());
    std::optional<RawConnection::HttpResponse> response = connection->HttpGet(path, kHttpTimeout);
    if (!response.has_value()) AbortTest(absl::StrCat("no HTTP response for ", path, "\n", Log()));
    return *std::move(response);
  }
};

class HttpRouteTest : public HttpTest, public ::testing::WithParamInterface<RouteCase> {};

TEST_P(HttpRouteTest, AnswersWithItsStatus) {
  RawConnection::HttpResponse response = Get(GetParam().path);

  EXPECT_EQ(response.status, GetParam().status) << response.body;
  EXPECT_THAT(response.body, HasSubstr(GetParam().body));
}

INSTANTIATE_TEST_SUITE_P(Routes, HttpRouteTest, ::testing::ValuesIn([] {
                           std::vector<RouteCase> routes = ObservabilityRoutes();
                           routes.push_back({"DevicePathWithoutUpgrade", "/v1/devices", 426, "upgrade"});
                           routes.push_back({"UnknownPath", "/v2/devices", 404, ""});
                           return routes;
                         }()),
                         RowName());

TEST_F(HttpTest, WebSocketUpgradeOnAnotherPathIsRefusedWith404) {
  DeviceOptions options;
  options.url = absl::StrCat("ws://127.0.0.1:", bridge().ws_port(), "/v1/other");
  options.device_id = NewId();
  options.account_id = NewId();
  options.token = bridge().MintToken(options.device_id, options.account_id);
  TestDevice device(options);

  absl::Status connected = device.Connect();

  EXPECT_FALSE(connected.ok());
  EXPECT_THAT(connected.message(), HasSubstr("HTTP 404"));
}

TEST_F(HttpTest, MetricsCountDevicesConnectionsAndSubscribers) {
  StartOwnBridge();
  TestDevice& device = Connect();
  Connect();
  ASSERT_TRUE(SubscribeTo(device).NextMatching(OfType("device-connected"), kHttpTimeout).has_value()) << Log();

  const std::string metrics = Get("/metrics").body;

  EXPECT_THAT(metrics, HasSubstr("\nhivebridge_devices_connected 2\n"));
  EXPECT_THAT(metrics, HasSubstr("\nhivebridge_websocket_connections 2\n"));
  EXPECT_THAT(metrics, HasSubstr("\nhivebridge_event_subscribers 1\n"));
  EXPECT_THAT(metrics, HasSubstr("\nhivebridge_requests_pending 0\n"));
}

}  // namespace
}  // namespace hive::integration

// /metrics answers "how slow" and "what failed" (docs/metrics.md): the
// histograms and labelled counters move with the calls that feed them, the
// process_* family every fd and memory alert uses is there, and the page and
// docs/metrics.md name the same metrics, each with its type.
#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_metrics.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/event_stream.h"
#include "tests/integration/support/grpc_calls.h"
#include "tests/integration/support/raw_connection.h"
#include "tests/integration/support/test_device.h"

namespace hive::integration {
namespace {

using hive::bridge::v1::SubscribeEventsRequest;
using hive::bridge::v1::WAIT_MODE_ACK;
using hive::bridge::v1::WAIT_MODE_RESULT;

constexpr char kSendDeviceRequest[] =
    R"(grpc_method="SendDeviceRequest",grpc_service="hive.bridge.v1.DeviceBridge",grpc_type="unary")";

std::string MetricsPage(const BridgeProcess& bridge) {
  absl::StatusOr<RawConnection> http = RawConnection::Open(bridge.ws_port());
  if (!http.ok()) AbortTest(http.status().ToString());
  std::optional<RawConnection::HttpResponse> response = http->HttpGet("/metrics", absl::Seconds(3));
  if (!response.has_value() || response->status != 200) AbortTest("no /metrics page");
  return response->body;
}

// Metric name → type, from the page's "# TYPE name type" lines.
std::map<std::string, std::string> TypesOnPage(const std::string& page) {
  std::map<std::string, std::string> types;
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (!absl::ConsumePrefix(&line, "# TYPE ")) continue;
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    if (parts.size() == 2) types[parts[0]] = parts[1];
  }
  return types;
}

// Metric name → type, from docs/metrics.md's table rows "| `name` | type | ...".
std::map<std::string, std::string> TypesInDocs() {
  std::ifstream in(std::string(HIVE_DOCS_DIR) + "/metrics.md");
  if (!in) AbortTest("docs/metrics.md is missing");
  std::map<std::string, std::string> types;
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view row(line);
    if (!absl::ConsumePrefix(&row, "| `")) continue;
    std::vector<std::string> cells = absl::StrSplit(row, " | ");
    if (cells.size() < 2) continue;
    std::string name(absl::StripSuffix(cells[0], "`"));
    // A labelled name ("name{label}") documents the metric "name".
    name = name.substr(0, name.find('{'));
    types[name] = cells[1];
  }
  return types;
}

// Each test has a bridge of its own: they count exactly what they caused.
class MetricsTest : public BridgeTest {
 protected:
  void SetUp() override { StartOwnBridge(); }
};

TEST_F(MetricsTest, RequestOutcomesMoveTheirCountersAndLatencyHistograms) {
  TestDevice& acking = Connect({.responder = Responder::Ack()});
  TestDevice& answering = Connect({.responder = Responder::AckThenOk(R"({"free": 1})")});
  TestDevice& failing = Connect({.responder = Responder::AckThenError("disk on fire")});
  constexpr int kAcked = 5;
  for (int i = 0; i < kAcked; ++i) {
    const CallResult acked = SendRequest(stub(), RequestTo(acking.device_id(), WAIT_MODE_ACK));
    ASSERT_TRUE(acked.status.ok()) << acked << "\n" << Log();
  }
  const CallResult succeeded = SendRequest(stub(), RequestTo(answering.device_id(), WAIT_MODE_RESULT));
  ASSERT_EQ(succeeded.response.status(), hive::bridge::v1::REQUEST_STATUS_SUCCEEDED) << succeeded << "\n" << Log();
  const CallResult failed = SendRequest(stub(), RequestTo(failing.device_id(), WAIT_MODE_RESULT));
  ASSERT_EQ(failed.response.status(), hive::bridge::v1::REQUEST_STATUS_FAILED) << failed << "\n" << Log();
  SendDeviceRequestRequest retried = RequestTo(acking.device_id(), WAIT_MODE_ACK);
  retried.set_request_id(NewId());
  ASSERT_TRUE(SendRequest(stub(), retried).status.ok()) << Log();
  ASSERT_TRUE(SendRequest(stub(), retried).status.ok()) << Log();
  const CallResult absent = SendRequest(stub(), RequestTo(NewId(), WAIT_MODE_ACK));
  ASSERT_EQ(absent.status.error_code(), grpc::StatusCode::NOT_FOUND) << absent;

  // This test's bridge served only these calls, all reboot commands.
  const BridgeProcess& server = bridge();
  // The retry was answered from the first call's entry: counted, not sent again.
  EXPECT_EQ(MetricValue(server, "hivebridge_request_retries_joined_total"), 1u);
  EXPECT_EQ(MetricValue(server, R"(hivebridge_device_requests_total{command="device_command",status="acked"})"),
            kAcked + 2u);
  EXPECT_EQ(MetricValue(server, R"(hivebridge_device_requests_total{command="device_command",status="succeeded"})"),
            1u);
  EXPECT_EQ(MetricValue(server, R"(hivebridge_device_requests_total{command="device_command",status="failed"})"), 1u);
  // Every acked call, and the two answered ones, carried an ack latency.
  EXPECT_EQ(MetricValue(server, R"(hivebridge_device_request_ack_seconds_count{command="device_command"})"),
            kAcked + 4u);
  EXPECT_EQ(MetricValue(server, R"(hivebridge_device_request_ack_seconds_bucket{command="device_command",le="+Inf"})"),
            kAcked + 4u);
  EXPECT_EQ(
      MetricValue(server,
                  R"(hivebridge_device_request_result_seconds_count{command="device_command",outcome="succeeded"})"),
      1u);
  EXPECT_EQ(MetricValue(server,
                        R"(hivebridge_device_request_result_seconds_count{command="device_command",outcome="failed"})"),
            1u);
  EXPECT_EQ(MetricValue(server, absl::StrCat("grpc_server_started_total{", kSendDeviceRequest, "}")), kAcked + 5u);
  EXPECT_EQ(MetricValue(server, absl::StrCat(R"(grpc_server_handled_total{grpc_code="OK",)", kSendDeviceRequest, "}")),
            kAcked + 4u);
  EXPECT_EQ(
      MetricValue(server, absl::StrCat(R"(grpc_server_handled_total{grpc_code="NotFound",)", kSendDeviceRequest, "}")),
      1u);
  EXPECT_EQ(MetricValue(server, absl::StrCat("grpc_server_handling_seconds_count{", kSendDeviceRequest, "}")),
            kAcked + 5u);
}

TEST_F(MetricsTest, EventsDeliveredToASubscriberAreTimed) {
  TestDevice& device = Connect();
  SubscribeEventsRequest request;
  request.add_device_ids(device.device_id());
  request.add_types("device-state");
  EventStream& stream = Subscribe(request);
  constexpr int kEvents = 3;
  for (int i = 0; i < kEvents; ++i) device.Send(R"({"type":"device-state","payload":{}})");
  for (int i = 0; i < kEvents; ++i) ASSERT_TRUE(stream.Next(absl::Seconds(5)).has_value()) << Log();
  EXPECT_EQ(AwaitMetricValue(bridge(), "hivebridge_event_delivery_delay_seconds_count", kEvents, absl::Seconds(5)),
            static_cast<uint64_t>(kEvents));
}

TEST_F(MetricsTest, RefusedDevicesAreCountedByReasonAndByTheirCloseCode) {
  std::unique_ptr<TestDevice> forged = MakeDevice(bridge(), {.token = "not-a-jwt"});
  ASSERT_FALSE(forged->ConnectAndAuthenticate().ok());
  TestDevice& connected = Connect({.dialect = codec::Dialect::kCompact});

  EXPECT_EQ(MetricValue(bridge(), R"(hivebridge_device_auth_failures_total{reason="malformed"})"), 1u);
  EXPECT_EQ(AwaitMetricValue(bridge(), R"(hivebridge_device_closes_total{closed_by="bridge",code="4401"})", 1,
                             absl::Seconds(5)),
            1u);
  EXPECT_EQ(MetricValue(bridge(), R"(hivebridge_device_connections{protocol="hive.compact.v1"})"), 1u);
  EXPECT_GE(MetricValue(bridge(), R"(hivebridge_device_events_total{type="device-connected"})"), 1u);
  // Header authentication: the authenticated reply is the only frame so far.
  EXPECT_GE(MetricValue(bridge(), R"(hivebridge_device_frames_total{direction="out"})"), 1u);
  EXPECT_GT(MetricValue(bridge(), R"(hivebridge_device_bytes_total{direction="out"})"), 0u);
  (void)connected;
}

TEST_F(MetricsTest, ProcessFamilyDescribesTheBridgeProcess) {
  const std::string page = MetricsPage(bridge());
  const std::map<std::string, std::string> types = TypesOnPage(page);
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
                           "process_start_time_seconds", "process_open_fds", "process_max_fds"}) {
    EXPECT_TRUE(types.count(name)) << name << " missing from\n" << page;
  }
  // At least the two listening sockets and the three standard streams.
  EXPECT_GE(MetricValue(bridge(), "process_open_fds"), 5u);
  EXPECT_GE(MetricValue(bridge(), "process_max_fds"), MetricValue(bridge(), "process_open_fds"));
  EXPECT_GT(MetricValue(bridge(), "process_resident_memory_bytes"), 0u);
}

TEST_F(MetricsTest, PageAndDocsNameTheSameMetricsWithTheSameTypes) {
  // A request answered with a result first, so that the labelled families
  // have series to show.
  TestDevice& device = Connect({.responder = Responder::AckThenOk("{}")});
  ASSERT_TRUE(SendRequest(stub(), RequestTo(device.device_id(), WAIT_MODE_RESULT)).status.ok()) << Log();
  const std::map<std::string, std::string> page = TypesOnPage(MetricsPage(bridge()));
  const std::map<std::string, std::string> docs = TypesInDocs();
  ASSERT_FALSE(docs.empty()) << "docs/metrics.md has no metric table";
  for (const auto& [name, type] : page) {
    auto documented = docs.find(name);
    if (documented == docs.end()) {
      ADD_FAILURE() << name << " (" << type << ") is exported but not in docs/metrics.md";
    } else {
      EXPECT_EQ(documented->second.substr(0, documented->second.find(',')), type) << name;
    }
  }
  for (const auto& [name, type] : docs) {
    // Families that exist only in some modes (queued requests, cluster) are
    // marked so in the docs' type column ("gauge, with --state-dir").
    if (page.count(name) == 0 && !absl::StrContains(type, ",")) {
      ADD_FAILURE() << name << " is in docs/metrics.md but not exported";
    }
  }
}

}  // namespace
}  // namespace hive::integration

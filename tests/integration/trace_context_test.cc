// Trace context (docs/protocol.md#trace-context): a backend's W3C
// `traceparent` is continued, answered in the call's initial metadata with
// the bridge's own span, and named (`trace=`) in the call's log lines; an
// absent or invalid one starts a fresh trace and never fails the call; with
// --trace-to-device the device's frame carries it, and by default it does not.
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bridge/trace_context.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_metrics.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/grpc_calls.h"
#include "tests/integration/support/test_device.h"

namespace hive::integration {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

constexpr absl::Duration kTimeout = absl::Seconds(5);
constexpr char kTraceId[] = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr char kParentId[] = "00f067aa0ba902b7";
constexpr char kTraceparent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// A SendDeviceRequest with the given metadata, and the server's initial
// metadata.
struct TracedCall {
  grpc::Status status;
  SendDeviceRequestResponse response;
  std::multimap<std::string, std::string> initial_metadata;

  std::string Header(const std::string& key) const {
    auto it = initial_metadata.find(key);
    return it == initial_metadata.end() ? "" : it->second;
  }
};

TracedCall SendTraced(Stub& stub, const SendDeviceRequestRequest& request,
                      const std::vector<std::pair<std::string, std::string>>& metadata) {
  grpc::ClientContext context;
  SetDeadline(context, kTimeout);
  for (const auto& [key, value] : metadata) context.AddMetadata(key, value);
  TracedCall call;
  call.status = stub.SendDeviceRequest(&context, request, &call.response);
  for (const auto& [key, value] : context.GetServerInitialMetadata()) {
    call.initial_metadata.emplace(std::string(key.data(), key.size()), std::string(value.data(), value.size()));
  }
  return call;
}

// The log's lines that hold `needle`.
std::vector<std::string> LinesWith(const std::string& log, absl::string_view needle) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(line, needle)) lines.emplace_back(line);
  }
  return lines;
}

class TraceContextTest : public BridgeTest {};

TEST_F(TraceContextTest, AValidTraceparentIsContinuedInANewSpanAndNamedInTheAuditLine) {
  StartOwnBridge();
  TestDevice& device = Connect({.responder = Responder::Ack()});
  SendDeviceRequestRequest request = RequestTo(device.device_id());
  request.set_request_id(NewId());
  TracedCall call = SendTraced(stub(), request, {{"traceparent", kTraceparent}, {"tracestate", "congo=t61rcWkgMzE"}});
  ASSERT_TRUE(call.status.ok()) << call.status.error_message() << Log();

  std::optional<Traceparent> answered = ParseTraceparent(call.Header("traceparent"));
  ASSERT_TRUE(answered.has_value()) << call.Header("traceparent");
  EXPECT_EQ(answered->version, 0);
  EXPECT_EQ(answered->trace_id, kTraceId);
  EXPECT_NE(answered->parent_id, kParentId);  // the bridge's span, not the caller's
  EXPECT_EQ(answered->flags, 1);
  EXPECT_EQ(call.Header("tracestate"), "congo=t61rcWkgMzE");

  ASSERT_TRUE(bridge().WaitForLog(absl::StrCat("request=", request.request_id()), kTimeout)) << Log();
  const std::vector<std::string> audit = LinesWith(Log(), absl::StrCat("request=", request.request_id()));
  ASSERT_EQ(audit.size(), 1u) << Log();
  EXPECT_THAT(audit[0], HasSubstr("event=device_request"));
  EXPECT_THAT(audit[0], HasSubstr(absl::StrCat("trace=", kTraceId)));

  // By default the device's frame is the seed's shape: no traceparent.
  std::optional<std::string> frame = device.NextOfType("device-request", kTimeout);
  ASSERT_TRUE(frame.has_value()) << device.Transcript();
  EXPECT_THAT(*frame, Not(HasSubstr("traceparent")));
}

TEST_F(TraceContextTest, NoOrAnInvalidTraceparentStartsAFreshTraceAndTheCallSucceeds) {
  StartOwnBridge();
  TestDevice& device = Connect({.responder = Responder::Ack()});
  const std::vector<std::vector<std::pair<std::string, std::string>>> cases = {
      {},
      {{"traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"}},
      {{"traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"}},
      {{"traceparent", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}},
      {{"traceparent", "garbage"}, {"tracestate", "congo=t61rcWkgMzE"}},
      // Two name no one parent.
      {{"traceparent", kTraceparent}, {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}},
  };
  std::vector<std::string> seen;
  for (const auto& metadata : cases) {
    SendDeviceRequestRequest request = RequestTo(device.device_id());
    request.set_request_id(NewId());
    TracedCall call = SendTraced(stub(), request, metadata);
    ASSERT_TRUE(call.status.ok()) << call.status.error_message() << Log();
    std::optional<Traceparent> answered = ParseTraceparent(call.Header("traceparent"));
    ASSERT_TRUE(answered.has_value()) << call.Header("traceparent");
    EXPECT_THAT(answered->trace_id, MatchesRegex("[0-9a-f]{32}"));
    EXPECT_NE(answered->trace_id, kTraceId);
    EXPECT_EQ(call.Header("tracestate"), "");  // it went with the invalid traceparent
    for (const std::string& earlier : seen) EXPECT_NE(answered->trace_id, earlier);
    seen.push_back(answered->trace_id);
    ASSERT_TRUE(bridge().WaitForLog(absl::StrCat("request=", request.request_id()), kTimeout)) << Log();
    EXPECT_THAT(LinesWith(Log(), absl::StrCat("request=", request.request_id())),
                ::testing::ElementsAre(HasSubstr(absl::StrCat("trace=", answered->trace_id))));
  }
  // Tracing never fails a call, so /metrics is where the loss shows: five
  // invalid headers (an absent one is not invalid).
  EXPECT_EQ(MetricValue(bridge(), R"(hivebridge_trace_headers_ignored_total{reason="invalid_traceparent"})"), 5u);
  EXPECT_EQ(MetricValue(bridge(), R"(hivebridge_trace_headers_ignored_total{reason="tracestate_dropped"})"), 0u);
}

TEST_F(TraceContextTest, ATracestateOver512BytesIsDroppedAndCounted) {
  StartOwnBridge();
  TestDevice& device = Connect({.responder = Responder::Ack()});
  const std::string at_limit = "congo=" + std::string(512 - 6, 'x');
  TracedCall kept =
      SendTraced(stub(), RequestTo(device.device_id()), {{"traceparent", kTraceparent}, {"tracestate", at_limit}});
  ASSERT_TRUE(kept.status.ok()) << kept.status.error_message();
  EXPECT_EQ(kept.Header("tracestate"), at_limit);
  TracedCall dropped = SendTraced(stub(), RequestTo(device.device_id()),
                                  {{"traceparent", kTraceparent}, {"tracestate", at_limit + "x"}});
  ASSERT_TRUE(dropped.status.ok()) << dropped.status.error_message();
  EXPECT_EQ(dropped.Header("tracestate"), "");
  EXPECT_EQ(ParseTraceparent(dropped.Header("traceparent"))->trace_id, kTraceId);
  EXPECT_EQ(MetricValue(bridge(), R"(hivebridge_trace_headers_ignored_total{reason="tracestate_dropped"})"), 1u);
}

TEST_F(TraceContextTest, FailedCallsAreTracedToo) {
  StartOwnBridge();
  SendDeviceRequestRequest absent = RequestTo(NewId());
  absent.set_request_id(NewId());
  TracedCall call = SendTraced(stub(), absent, {{"traceparent", kTraceparent}});
  ASSERT_EQ(call.status.error_code(), grpc::StatusCode::NOT_FOUND);
  std::optional<Traceparent> answered = ParseTraceparent(call.Header("traceparent"));
  ASSERT_TRUE(answered.has_value()) << call.Header("traceparent");
  EXPECT_EQ(answered->trace_id, kTraceId);
  ASSERT_TRUE(bridge().WaitForLog(absl::StrCat("request=", absent.request_id()), kTimeout)) << Log();
  EXPECT_THAT(LinesWith(Log(), absl::StrCat("request=", absent.request_id())),
              ::testing::ElementsAre(
                  ::testing::AllOf(HasSubstr("code=NOT_FOUND"), HasSubstr(absl::StrCat("trace=", kTraceId)))));
}

// A queued request's lines name the trace of the call that caused each: the
// SendDeviceRequest that queued it, the CancelRequest that cancelled it.
TEST_F(TraceContextTest, QueuedAndCancelledLinesNameTheirCallsTrace) {
  const std::string state_dir = ::testing::TempDir() + "/hivebridge-state-" + NewId();
  StartOwnBridge({"--state-dir=" + state_dir});
  SendDeviceRequestRequest request = RequestTo(NewId());
  request.set_request_id(NewId());
  request.mutable_queue_ttl()->set_seconds(3600);
  TracedCall queued = SendTraced(stub(), request, {{"traceparent", kTraceparent}});
  ASSERT_TRUE(queued.status.ok()) << queued.status.error_message() << Log();
  ASSERT_EQ(queued.response.status(), hive::bridge::v1::REQUEST_STATUS_QUEUED);

  constexpr char kCancelTrace[] = "0af7651916cd43dd8448eb211c80319c";
  grpc::ClientContext context;
  SetDeadline(context, kTimeout);
  context.AddMetadata("traceparent", absl::StrCat("00-", kCancelTrace, "-b7ad6b7169203331-01"));
  hive::bridge::v1::CancelRequestRequest cancel;
  cancel.set_request_id(request.request_id());
  hive::bridge::v1::CancelRequestResponse cancelled;
  ASSERT_TRUE(stub().CancelRequest(&context, cancel, &cancelled).ok()) << Log();

  ASSERT_TRUE(bridge().WaitForLog("event=queued_request_cancelled", kTimeout)) << Log();
  const std::string log = Log();
  EXPECT_THAT(LinesWith(log, "event=request_queued"),
              ::testing::ElementsAre(::testing::AllOf(HasSubstr(absl::StrCat("request=", request.request_id())),
                                                      HasSubstr(absl::StrCat("trace=", kTraceId)))));
  EXPECT_THAT(LinesWith(log, "event=queued_request_cancelled"),
              ::testing::ElementsAre(::testing::AllOf(HasSubstr(absl::StrCat("request=", request.request_id())),
                                                      HasSubstr(absl::StrCat("trace=", kCancelTrace)))));
  std::filesystem::remove_all(state_dir);
}

TEST_F(TraceContextTest, TraceToDeviceAddsTheBridgesSpanToTheFrameInBothDialects) {
  StartOwnBridge({"--trace-to-device=true"});
  for (codec::Dialect dialect : {codec::Dialect::kStandard, codec::Dialect::kCompact}) {
    TestDevice& device = Connect({.dialect = dialect, .responder = Responder::Ack()});
    SendDeviceRequestRequest request = RequestTo(device.device_id());
    TracedCall call = SendTraced(stub(), request, {{"traceparent", kTraceparent}});
    ASSERT_TRUE(call.status.ok()) << call.status.error_message() << Log();
    const std::string answered = call.Header("traceparent");
    ASSERT_TRUE(ParseTraceparent(answered).has_value()) << answered;
    std::optional<std::string> frame = device.NextOfType("device-request", kTimeout);
    ASSERT_TRUE(frame.has_value()) << device.Transcript();
    // The device's parent is the bridge's span for the call, as answered.
    EXPECT_THAT(*frame, HasSubstr(absl::StrCat(R"("traceparent":")", answered, "\"")));
  }
}

TEST_F(TraceContextTest, StreamsAnswerTheTraceInTheirInitialMetadata) {
  StartOwnBridge();
  grpc::ClientContext context;
  SetDeadline(context, kTimeout);
  context.AddMetadata("traceparent", kTraceparent);
  hive::bridge::v1::SubscribeEventsRequest request;
  std::unique_ptr<grpc::ClientReader<hive::bridge::v1::SubscribeEventsResponse>> reader =
      stub().SubscribeEvents(&context, request);
  reader->WaitForInitialMetadata();
  const auto& metadata = context.GetServerInitialMetadata();
  auto it = metadata.find("traceparent");
  ASSERT_NE(it, metadata.end());
  std::optional<Traceparent> answered = ParseTraceparent(std::string(it->second.data(), it->second.size()));
  ASSERT_TRUE(answered.has_value());
  EXPECT_EQ(answered->trace_id, kTraceId);
  context.TryCancel();
  reader->Finish();
}

}  // namespace
}  // namespace hive::integration

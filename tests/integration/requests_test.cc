// SendDeviceRequest end to end (docs/protocol.md §5, device_bridge.proto):
// what reaches the device, what the backend gets back for every way a device
// answers or fails to, idempotent retries, and a thousand calls at once.
#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "bridge/codec/device_request.h"
#include "bridge/codec/json_path.h"
#include "bridge/uuid.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/json_assertions.h"

namespace hive::integration {
namespace {

using integration::operator<<;
using hive::bridge::v1::DeviceRequest;
using hive::bridge::v1::RequestStatus;
using hive::bridge::v1::WaitMode;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

// Bounds a hang only: every wait on it is for something that comes at once.
constexpr absl::Duration kFrameTimeout = absl::Seconds(10);

std::string ReadFixture(const std::string& name) {
  std::ifstream in(std::string(HIVE_FIXTURES_DIR) + "/" + name);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// The seed's device-request (tests/fixtures/), decoded by the codec.
DeviceRequest SeedRequest() {
  const std::string json = ReadFixture("seed_device_request.json");
  std::optional<rapidjson::Document> doc = ParseJsonText(json);
  if (!doc.has_value()) AbortTest("seed_device_request.json is missing or not JSON");
  codec::JsonPath path;
  absl::StatusOr<DeviceRequest> request = codec::DecodeDeviceRequest(*doc, codec::Dialect::kStandard, path);
  if (!request.ok()) AbortTest(request.status().ToString());
  return *std::move(request);
}

// The gRPC request a backend sends for `wire` (its command and state).
SendDeviceRequestRequest BackendRequestFor(const DeviceRequest& wire) {
  SendDeviceRequestRequest request;
  request.set_device_id(wire.device_id());
  request.set_request_id(wire.request_id());
  *request.mutable_command() = wire.command();
  if (wire.has_state()) *request.mutable_state() = wire.state();
  return request;
}

google::protobuf::Struct StructOf(absl::string_view json) {
  google::protobuf::Struct value;
  if (!google::protobuf::util::JsonStringToMessage(std::string(json), &value).ok()) AbortTest("bad JSON");
  return value;
}

class RequestsTest : public BridgeTest {
 protected:
  static void SetUpTestSuite() { StartSuiteBridge(); }
  static void TearDownTestSuite() { StopSuiteBridge(); }
};

TEST_F(RequestsTest, SeedRequestReachesTheDeviceAsExactlyTheSeedsJson) {
  const DeviceRequest seed = SeedRequest();
  TestDevice& device = Connect({.device_id = seed.device_id(), .account_id = seed.account_id()});

  PendingCall call(stub(), BackendRequestFor(seed));
  std::optional<std::string> frame = device.NextOfType("device-request", kFrameTimeout);
  ASSERT_TRUE(frame.has_value()) << device.Transcript() << "\n" << Log();
  EXPECT_TRUE(JsonEquals(*frame, ReadFixture("seed_device_request.json")));

  device.Ack(seed.request_id());
  std::optional<CallResult> result = call.Wait(kFrameTimeout);
  ASSERT_TRUE(result.has_value()) << Log();
  ASSERT_TRUE(result->status.ok()) << *result << "\n" << Log();
  EXPECT_EQ(result->response.request_id(), seed.request_id());
  EXPECT_EQ(result->response.status(), hive::bridge::v1::REQUEST_STATUS_ACKED);
  EXPECT_TRUE(result->response.has_sent_at());
  EXPECT_TRUE(result->response.has_ack_latency());
}

struct DialectCase {
  std::string name;
  codec::Dialect dialect;
  std::vector<std::string> top_level_keys;
};

class RequestDialectTest : public RequestsTest, public ::testing::WithParamInterface<DialectCase> {};

TEST_P(RequestDialectTest, DeviceReceivesTheSeedShapeThatDecodesToTheTypedRequest) {
  TestDevice& device = Connect({.dialect = GetParam().dialect});
  DeviceRequest expected = SeedRequest();
  expected.set_request_id(NewId());
  expected.set_device_id(device.device_id());
  expected.set_account_id(device.account_id());

  PendingCall call(stub(), BackendRequestFor(expected));
  std::optional<std::string> frame = device.NextOfType("device-request", kFrameTimeout);
  ASSERT_TRUE(frame.has_value()) << device.Transcript() << "\n" << Log();
  std::optional<rapidjson::Document> doc = ParseJsonText(*frame);
  ASSERT_TRUE(doc.has_value()) << *frame;
  EXPECT_THAT(KeysOf(*doc), ElementsAreArray(GetParam().top_level_keys)) << *frame;
  codec::JsonPath path;
  absl::StatusOr<DeviceRequest> received = codec::DecodeDeviceRequest(*doc, GetParam().dialect, path);
  ASSERT_TRUE(received.ok()) << received.status() << "\n" << *frame;
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*received, expected))
      << "received: " << received->ShortDebugString() << "\nexpected: " << expected.ShortDebugString();

  device.Ack(expected.request_id());
  std::optional<CallResult> result = call.Wait(kFrameTimeout);
  ASSERT_TRUE(result.has_value()) << Log();
  EXPECT_EQ(result->response.status(), hive::bridge::v1::REQUEST_STATUS_ACKED) << *result;
}

INSTANTIATE_TEST_SUITE_P(Dialects, RequestDialectTest,
                         ::testing::Values(DialectCase{"Standard",
                                                       codec::Dialect::kStandard,
                                                       {"account", "command", "device", "payload", "request", "service",
                                                        "state", "type"}},
                                           DialectCase{"Compact",
                                                       codec::Dialect::kCompact,
                                                       {"acc", "cmd", "dat", "dev", "req", "sta", "svc", "typ"}}),
                         RowName());

// How one call to a connected device ends, by how the device answers.
struct OutcomeCase {
  std::string name;
  std::optional<Responder> responder{};  // unset: the device never answers
  WaitMode wait = hive::bridge::v1::WAIT_MODE_ACK;
  absl::Duration deadline = kDefaultCallDeadline;
  // Adjusts the request for the device (e.g. names another account).
  std::function<void(SendDeviceRequestRequest&, const TestDevice&)> adjust{};
  grpc::StatusCode code = grpc::StatusCode::OK;
  RequestStatus status = hive::bridge::v1::REQUEST_STATUS_UNSPECIFIED;
  // Further checks of the result.
  std::function<void(const CallResult&, const TestDevice&)> check{};
};

class RequestOutcomeTest : public RequestsTest, public ::testing::WithParamInterface<OutcomeCase> {};

TEST_P(RequestOutcomeTest, CallEndsAsTheDeviceAnswers) {
  const OutcomeCase& c = GetParam();
  TestDevice& device = Connect({.responder = c.responder});
  SendDeviceRequestRequest request = RequestTo(device.device_id(), c.wait);
  if (c.adjust) c.adjust(request, device);

  CallResult result = SendRequest(stub(), request, c.deadline);

  EXPECT_EQ(result.status.error_code(), c.code) << result << "\n" << device.Transcript() << "\n" << Log();
  if (c.code == grpc::StatusCode::OK) {
    EXPECT_EQ(result.response.status(), c.status) << result;
    EXPECT_TRUE(IsUuid(result.response.request_id())) << result;
    EXPECT_TRUE(result.response.has_sent_at()) << result;
  }
  if (c.check) c.check(result, device);
}

constexpr auto kAcked = hive::bridge::v1::REQUEST_STATUS_ACKED;
constexpr auto kWaitAck = hive::bridge::v1::WAIT_MODE_ACK;
constexpr auto kWaitResult = hive::bridge::v1::WAIT_MODE_RESULT;

INSTANTIATE_TEST_SUITE_P(
    Outcomes, RequestOutcomeTest,
    ::testing::Values(
        OutcomeCase{.name = "AckedWithAckLatency",
                    .responder = Responder::Ack(),
                    .wait = kWaitAck,
                    .status = kAcked,
                    .check =
                        [](const CallResult& r, const TestDevice&) {
                          EXPECT_TRUE(r.response.has_ack_latency()) << r;
                          EXPECT_FALSE(r.response.has_result_latency()) << r;
                          EXPECT_FALSE(r.response.has_result()) << r;
                        }},
        OutcomeCase{.name = "HivekitAckIsAnAck", .responder = Responder::HivekitAck(), .status = kAcked},
        OutcomeCase{.name = "UnspecifiedWaitMeansAck",
                    .responder = Responder::Ack(),
                    .wait = hive::bridge::v1::WAIT_MODE_UNSPECIFIED,
                    .status = kAcked},
        OutcomeCase{.name = "AckModeReturnsAtTheAckEvenWhenAResultFollows",
                    .responder = Responder::AckThenOk(R"({"stopped":true})"),
                    .wait = kWaitAck,
                    .status = kAcked},
        OutcomeCase{.name = "ResultModeSucceededWithTheResult",
                    .responder = Responder::AckThenOk(R"({"stopped":true,"disk":{"free":1048576}})"),
                    .wait = kWaitResult,
                    .status = hive::bridge::v1::REQUEST_STATUS_SUCCEEDED,
                    .check =
                        [](const CallResult& r, const TestDevice&) {
                          EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
                              r.response.result(), StructOf(R"({"stopped":true,"disk":{"free":1048576}})")))
                              << r;
                          EXPECT_TRUE(r.response.has_ack_latency()) << r;
                          EXPECT_TRUE(r.response.has_result_latency()) << r;
                          EXPECT_TRUE(r.response.error().empty()) << r;
                        }},
        OutcomeCase{.name = "ResultModeFailedWithTheDevicesError",
                    .responder = Responder::AckThenError("no such instance"),
                    .wait = kWaitResult,
                    .status = hive::bridge::v1::REQUEST_STATUS_FAILED,
                    .check =
                        [](const CallResult& r, const TestDevice&) {
                          EXPECT_EQ(r.response.error(), "no such instance") << r;
                          EXPECT_TRUE(r.response.has_result_latency()) << r;
                        }},
        OutcomeCase{.name = "NoneModeSentWithoutWaiting",
                    .wait = hive::bridge::v1::WAIT_MODE_NONE,
                    .status = hive::bridge::v1::REQUEST_STATUS_SENT,
                    .check =
                        [](const CallResult& r, const TestDevice&) {
                          // The device never acks: SENT rather than DEADLINE_EXCEEDED shows the call did not wait.
                          EXPECT_FALSE(r.response.has_ack_latency()) << r;
                        }},
        OutcomeCase{.name = "NoAckIsDeadlineExceededAtTheCallsDeadline",
                    .wait = kWaitAck,
                    .deadline = absl::Milliseconds(500),
                    .code = grpc::StatusCode::DEADLINE_EXCEEDED,
                    .check =
                        [](const CallResult& r, const TestDevice& device) {
                          // Not before the deadline (an upper bound would be a timing assertion).
                          EXPECT_GE(r.elapsed, absl::Milliseconds(400)) << r;
                          EXPECT_EQ(device.received_requests(), 1);
                        }},
        OutcomeCase{.name = "AckWithoutResultIsDeadlineExceededInResultMode",
                    .responder = Responder::Ack(),
                    .wait = kWaitResult,
                    .deadline = absl::Milliseconds(500),
                    .code = grpc::StatusCode::DEADLINE_EXCEEDED},
        OutcomeCase{.name = "OtherAccountIsPermissionDeniedAndNothingIsSent",
                    .responder = Responder::Ack(),
                    .wait = kWaitAck,
                    .adjust = [](SendDeviceRequestRequest& r, const TestDevice&) { r.set_account_id(NewId()); },
                    .code = grpc::StatusCode::PERMISSION_DENIED,
                    .check =
                        [](const CallResult& r, const TestDevice& device) {
                          EXPECT_THAT(r.status.error_message(), HasSubstr("does not belong to account")) << r;
                          EXPECT_EQ(device.received_requests(), 0);
                        }},
        OutcomeCase{.name = "OwnAccountIsAccepted",
                    .responder = Responder::Ack(),
                    .wait = kWaitAck,
                    .adjust = [](SendDeviceRequestRequest& r,
                                 const TestDevice& device) { r.set_account_id(device.account_id()); },
                    .status = kAcked},
        OutcomeCase{.name = "CallersRequestIdIsEchoed",
                    .responder = Responder::Ack(),
                    .wait = kWaitAck,
                    .adjust = [](SendDeviceRequestRequest& r,
                                 const TestDevice&) { r.set_request_id("5e5b0ee5-8774-4ebb-807c-48c9c26c16f8"); },
                    .status = kAcked,
                    .check =
                        [](const CallResult& r, const TestDevice& device) {
                          EXPECT_EQ(r.response.request_id(), "5e5b0ee5-8774-4ebb-807c-48c9c26c16f8");
                          EXPECT_THAT(device.received_request_ids(),
                                      ElementsAreArray({"5e5b0ee5-8774-4ebb-807c-48c9c26c16f8"}));
                        }}),
    RowName());

TEST_F(RequestsTest, OfflineDeviceIsNotFoundAtOnce) {
  CallResult result = SendRequest(stub(), RequestTo(NewId()));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::NOT_FOUND) << result;
  EXPECT_THAT(result.status.error_message(), HasSubstr("is not connected"));
}

TEST_F(RequestsTest, OfflineDeviceThatConnectsWithinConnectTimeoutGetsTheRequest) {
  TestDevice& device = NewDevice({.responder = Responder::Ack()});
  SendDeviceRequestRequest request = RequestTo(device.device_id());
  request.mutable_connect_timeout()->set_seconds(5);
  PendingCall call(stub(), request, absl::Seconds(8));
  // A later call on the same channel that finds the device offline: by
  // then the first one is at the bridge, waiting.
  EXPECT_EQ(SendRequest(stub(), RequestTo(device.device_id())).status.error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_FALSE(call.done()) << call.Wait(absl::ZeroDuration()).value();

  ASSERT_TRUE(device.ConnectAndAuthenticate().ok()) << Log();

  std::optional<CallResult> result = call.Wait(absl::Seconds(30));  // the call's own deadline ends it first
  ASSERT_TRUE(result.has_value()) << Log();
  EXPECT_TRUE(result->status.ok()) << *result << "\n" << Log();
  EXPECT_EQ(result->response.status(), kAcked) << *result;
  EXPECT_EQ(device.received_requests(), 1);
}

TEST_F(RequestsTest, ConnectTimeoutElapsingIsNotFound) {
  SendDeviceRequestRequest request = RequestTo(NewId());
  request.mutable_connect_timeout()->set_nanos(300'000'000);

  CallResult result = SendRequest(stub(), request, absl::Seconds(5));

  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::NOT_FOUND) << result;
  // The connect timeout was waited out (not the call's 5 s deadline: that would be DEADLINE_EXCEEDED).
  EXPECT_GE(result.elapsed, absl::Milliseconds(280)) << result;
}

// How a device goes away while a request to it is in flight.
struct DropCase {
  std::string name;
  WaitMode wait;
  bool acked_first;  // the device acks before it goes
  std::function<void(TestDevice&)> drop;
};

class DeviceDropTest : public RequestsTest, public ::testing::WithParamInterface<DropCase> {};

TEST_P(DeviceDropTest, PendingCallIsAbortedLongBeforeItsDeadline) {
  const DropCase& c = GetParam();
  TestDevice& device = Connect();
  PendingCall call(stub(), RequestTo(device.device_id(), c.wait), absl::Seconds(10));
  std::optional<std::string> request = device.NextOfType("device-request", kFrameTimeout);
  ASSERT_TRUE(request.has_value()) << Log();
  if (c.acked_first) device.Ack(StringField(*request, "request"));

  c.drop(device);

  // Long before its deadline means the close ended it: at the deadline it
  // would be DEADLINE_EXCEEDED. The device received the request, so the
  // outcome is unknown: ABORTED (docs/protocol.md#delivery-guarantee).
  std::optional<CallResult> result = call.Wait(absl::Seconds(30));
  ASSERT_TRUE(result.has_value()) << "the call outlived its own deadline\n" << Log();
  EXPECT_EQ(result->status.error_code(), grpc::StatusCode::ABORTED) << *result;
  EXPECT_THAT(result->status.error_message(),
              HasSubstr(c.acked_first ? "acknowledged by the device, but its connection closed"
                                      : "the device may have received it"))
      << *result;
}

void CloseNormally(TestDevice& device) { device.Close(1000, "bye"); }
void DropTcp(TestDevice& device) { device.Abort(); }

INSTANTIATE_TEST_SUITE_P(
    Drops, DeviceDropTest,
    ::testing::Values(DropCase{"ClosingHandshakeBeforeTheAck", kWaitAck, false, CloseNormally},
                      DropCase{"TcpDroppedBeforeTheAck", kWaitAck, false, DropTcp},
                      DropCase{"ClosingHandshakeAfterTheAckBeforeTheResult", kWaitResult, true, CloseNormally},
                      DropCase{"TcpDroppedAfterTheAckBeforeTheResult", kWaitResult, true, DropTcp}),
    RowName());

TEST_F(RequestsTest, RetryOfARequestTheDroppedDeviceReceivedIsAbortedAndNeverSentAgain) {
  TestDevice& first = Connect();
  SendDeviceRequestRequest request = RequestTo(first.device_id());
  request.set_request_id(NewId());
  PendingCall call(stub(), request);
  ASSERT_TRUE(first.NextOfType("device-request", kFrameTimeout).has_value()) << Log();
  first.Abort();
  std::optional<CallResult> dropped = call.Wait(kFrameTimeout);
  ASSERT_TRUE(dropped.has_value()) << Log();
  ASSERT_EQ(dropped->status.error_code(), grpc::StatusCode::ABORTED) << *dropped;

  TestDevice& again =
      Connect({.device_id = first.device_id(), .account_id = first.account_id(), .responder = Responder::Ack()});
  CallResult retried = SendRequest(stub(), request);
  EXPECT_EQ(retried.status.error_code(), grpc::StatusCode::ABORTED) << retried << "\n" << Log();
  EXPECT_THAT(retried.status.error_message(), HasSubstr("will not send it again")) << retried;

  // A request with a new id is the next frame on the connection: a second
  // send of the first would have come before it.
  SendDeviceRequestRequest barrier = RequestTo(first.device_id());
  barrier.set_request_id(NewId());
  ASSERT_TRUE(SendRequest(stub(), barrier).status.ok()) << Log();
  EXPECT_THAT(again.received_request_ids(), ElementsAreArray({barrier.request_id()}));
}

TEST_F(RequestsTest, AnotherDevicesResponseNeverResolvesARequest) {
  TestDevice& target = Connect();
  TestDevice& meddler = Connect();
  SendDeviceRequestRequest request = RequestTo(target.device_id(), kWaitResult);
  request.set_request_id(NewId());
  PendingCall call(stub(), request);
  ASSERT_TRUE(target.NextOfType("device-request", kFrameTimeout).has_value()) << Log();

  meddler.Ack(request.request_id());
  meddler.Succeed(request.request_id(), R"({"forged":true})");
  std::optional<std::string> refused = meddler.NextOfType("error", kFrameTimeout);
  target.Ack(request.request_id());
  target.Succeed(request.request_id(), R"({"genuine":true})");
  std::optional<CallResult> result = call.Wait(kFrameTimeout);

  ASSERT_TRUE(refused.has_value()) << meddler.Transcript();
  EXPECT_THAT(StringField(*refused, "error"), HasSubstr("no pending request"));
  ASSERT_TRUE(result.has_value()) << Log();
  EXPECT_EQ(result->response.status(), hive::bridge::v1::REQUEST_STATUS_SUCCEEDED) << *result;
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(result->response.result(), StructOf(R"({"genuine":true})")))
      << *result;
}

// UUIDs are case-insensitive (RFC 4122 §3), and the API accepts either case.
TEST_F(RequestsTest, DeviceAndAccountIdsInUpperCaseNameTheSameDevice) {
  TestDevice& device = Connect({.responder = Responder::Ack()});
  SendDeviceRequestRequest request = RequestTo(absl::AsciiStrToUpper(device.device_id()));
  request.set_account_id(absl::AsciiStrToUpper(device.account_id()));

  CallResult result = SendRequest(stub(), request);

  EXPECT_TRUE(result.status.ok()) << result << "\n" << Log();
  EXPECT_EQ(result.response.status(), kAcked) << result;
}

TEST_F(RequestsTest, DuplicateRequestIdSendsOnceAndEveryCallGetsTheSameOutcome) {
  TestDevice& device = Connect();
  SendDeviceRequestRequest request = RequestTo(device.device_id());
  request.set_request_id(NewId());

  PendingCall first(stub(), request);
  ASSERT_TRUE(device.NextOfType("device-request", kFrameTimeout).has_value()) << Log();
  PendingCall retry_in_flight(stub(), request);
  // A later call on the same channel: by the time it is answered, the retry
  // is at the bridge too.
  EXPECT_EQ(SendRequest(stub(), RequestTo(NewId())).status.error_code(), grpc::StatusCode::NOT_FOUND);
  device.Ack(request.request_id());
  std::optional<CallResult> a = first.Wait(kFrameTimeout);
  std::optional<CallResult> b = retry_in_flight.Wait(kFrameTimeout);
  CallResult c = SendRequest(stub(), request);  // after completion

  ASSERT_TRUE(a.has_value() && b.has_value()) << Log();
  for (const CallResult* result : {&*a, &*b, &c}) {
    EXPECT_TRUE(result->status.ok()) << *result;
    EXPECT_EQ(result->response.status(), kAcked) << *result;
    EXPECT_EQ(result->response.request_id(), request.request_id());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(result->response.sent_at(), a->response.sent_at()))
        << *result << " vs " << *a;
  }
  // A request with a new id sent afterwards is the next frame on the same
  // connection: any second send of the duplicate would have come before it.
  SendDeviceRequestRequest barrier = RequestTo(device.device_id());
  barrier.set_request_id(NewId());
  PendingCall barrier_call(stub(), barrier);
  ASSERT_TRUE(device.NextOfType("device-request", kFrameTimeout).has_value()) << Log();
  EXPECT_THAT(device.received_request_ids(), ElementsAreArray({request.request_id(), barrier.request_id()}))
      << device.Transcript();
}

TEST_F(RequestsTest, RequestIdOfAnotherDevicesRequestIsInvalidArgument) {
  TestDevice& first = Connect({.responder = Responder::Ack()});
  TestDevice& second = Connect({.responder = Responder::Ack()});
  SendDeviceRequestRequest request = RequestTo(first.device_id());
  request.set_request_id(NewId());
  ASSERT_TRUE(SendRequest(stub(), request).status.ok()) << Log();

  request.set_device_id(second.device_id());
  CallResult reused = SendRequest(stub(), request);

  EXPECT_EQ(reused.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << reused;
  EXPECT_THAT(reused.status.error_message(), HasSubstr("request_id")) << reused;
  EXPECT_EQ(second.received_requests(), 0);
}

TEST_F(RequestsTest, ThousandConcurrentRequestsOverFiftyDevicesEachCompleteOnceAcked) {
  constexpr int kDevices = 50;
  constexpr int kRequests = 1000;
  std::vector<TestDevice*> devices;
  for (int i = 0; i < kDevices; ++i) devices.push_back(&Connect({.responder = Responder::Ack()}));

  std::map<std::string, std::vector<std::string>> sent_to;  // device → request ids
  std::vector<std::unique_ptr<PendingCall>> calls;
  for (int i = 0; i < kRequests; ++i) {
    const TestDevice& device = *devices[i % kDevices];
    SendDeviceRequestRequest request = RequestTo(device.device_id());
    request.set_request_id(NewId());
    sent_to[device.device_id()].push_back(request.request_id());
    calls.push_back(std::make_unique<PendingCall>(stub(), std::move(request), absl::Seconds(30)));
  }

  int acked = 0;
  for (const auto& call : calls) {
    std::optional<CallResult> result = call->Wait(absl::Seconds(30));
    ASSERT_TRUE(result.has_value()) << call->request().request_id() << " never finished\n" << Log();
    EXPECT_TRUE(result->status.ok()) << *result;
    EXPECT_EQ(result->response.request_id(), call->request().request_id());
    if (result->response.status() == kAcked) ++acked;
  }
  EXPECT_EQ(acked, kRequests);
  for (const auto& call : calls) EXPECT_EQ(call->completions(), 1) << call->request().request_id();
  for (const TestDevice* device : devices) {
    EXPECT_THAT(device->received_request_ids(), UnorderedElementsAreArray(sent_to[device->device_id()]))
        << device->device_id();
  }
}

}  // namespace
}  // namespace hive::integration

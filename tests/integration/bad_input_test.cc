// Bad input, from devices (docs/protocol.md §3–§5, §8) and from backends
// (device_bridge.proto status codes): every row gets its own specific error,
// and none disturbs anyone else. After each row a healthy device on the same
// bridge still answers a request and a subscriber still receives its events.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/substitute.h"
#include "bridge/codec/compact_keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/json_assertions.h"
#include "tests/integration/support/raw_connection.h"

namespace hive::integration {
namespace {

using integration::operator<<;
using hive::bridge::v1::ListDevicesRequest;
using hive::bridge::v1::SubscribeEventsRequest;
using ::testing::HasSubstr;

// Bounds a hang only: every wait on it is for something that comes at once.
constexpr absl::Duration kReplyTimeout = absl::Seconds(10);
constexpr size_t kMaxMessageBytes = 4096;
constexpr int kMaxBatch = 8;
constexpr int kMaxBadFrames = 3;
constexpr size_t kMaxEventBytes = 1024;

// One bridge for the whole matrix, with a healthy device and a subscriber to
// its events that every row checks afterwards.
class BadInputTest : public BridgeTest {
 protected:
  static void SetUpTestSuite() {
    StartSuiteBridge({absl::StrCat("--max-message-bytes=", kMaxMessageBytes), absl::StrCat("--max-batch=", kMaxBatch),
                      absl::StrCat("--max-bad-frames=", kMaxBadFrames), "--max-json-depth=32",
                      absl::StrCat("--max-event-bytes=", kMaxEventBytes)});
    healthy_ = MakeDevice(suite_bridge(), {.responder = Responder::Ack()}).release();
    ConnectListed(*healthy_, suite_bridge(), suite_stub());
    SubscribeEventsRequest request;
    request.add_device_ids(healthy_->device_id());
    // From the bridge's first event: no probe slips past while the call is on its way.
    request.mutable_resume_after()->set_epoch(suite_bridge().epoch());
    request.mutable_resume_after()->set_sequence(0);
    watcher_ = new EventStream(suite_stub(), request);
  }

  static void TearDownTestSuite() {
    delete watcher_;
    watcher_ = nullptr;
    delete healthy_;
    healthy_ = nullptr;
    StopSuiteBridge();
  }

  // The healthy device still gets requests through, and its events still
  // reach the subscriber.
  void ExpectNoDisruption() {
    ASSERT_TRUE(healthy_->open()) << healthy_->Transcript();
    ExpectAcked(*healthy_);
    const std::string marker = absl::StrCat("probe-", ++probes_);
    healthy_->Send(MarkedEvent("device-state", marker));
    EXPECT_TRUE(watcher_->NextMatching(WithMarker(marker), kReplyTimeout).has_value())
        << "the subscriber missed the healthy device's event\n"
        << Log();
  }

  static TestDevice* healthy_;
  static EventStream* watcher_;
  static int probes_;
};

TestDevice* BadInputTest::healthy_ = nullptr;
EventStream* BadInputTest::watcher_ = nullptr;
int BadInputTest::probes_ = 0;

// --- From devices -------------------------------------------------------------

enum class Carrier {
  kText,
  kBinary,
  // A text frame sent on a raw socket, for bytes a WebSocket library refuses
  // to put in a text frame.
  kRawText,
};

struct DeviceCase {
  std::string name;
  std::string frame;  // "$0" stands for a fresh UUID
  Carrier carrier = Carrier::kText;
  codec::Dialect dialect = codec::Dialect::kStandard;
  int times = 1;  // sent this many times in a row
  // Expected: an error reply whose `error` holds `error` (and whose `cid` is
  // `cid`, "$0" again standing for the frame's UUID) with the connection left
  // open ...
  std::string error{};
  std::string cid{};
  // ... or a close with this code and a reason holding `reason`.
  int close_code = 0;
  std::string reason{};
};

class DeviceBadInputTest : public BadInputTest, public ::testing::WithParamInterface<DeviceCase> {
 protected:
  void SendRaw(const std::string& frame) {
    const std::string device_id = NewId();
    absl::StatusOr<RawConnection> ws =
        RawConnection::OpenWebSocket(bridge().ws_port(), bridge().MintToken(device_id, NewId()));
    ASSERT_TRUE(ws.ok()) << ws.status() << "\n" << Log();
    ASSERT_TRUE(ws->SendFrame(kTextOpcode, frame).ok());
    std::optional<RawConnection::Frame> close = ws->NextFrameOfOpcode(kCloseOpcode, kReplyTimeout);
    ASSERT_TRUE(close.has_value()) << "no close frame\n" << Log();
    EXPECT_EQ(close->close_code(), GetParam().close_code);
    EXPECT_THAT(close->close_reason(), HasSubstr(GetParam().reason));
  }

  void SendFromDevice(const std::string& frame, const std::string& cid) {
    const DeviceCase& c = GetParam();
    TestDevice& device = Connect({.dialect = c.dialect});
    for (int i = 0; i < c.times; ++i) {
      if (c.carrier == Carrier::kBinary) {
        device.SendBinary(frame);
      } else {
        device.Send(frame);
      }
    }
    if (c.close_code != 0) {
      ASSERT_TRUE(device.WaitClosed(kReplyTimeout)) << device.Transcript() << "\n" << Log();
      EXPECT_EQ(device.close_code(), c.close_code) << device.Transcript();
      EXPECT_THAT(device.close_reason(), HasSubstr(c.reason));
      return;
    }
    for (int i = 0; i < c.times; ++i) {
      std::optional<std::string> reply = device.NextOfType("error", kReplyTimeout);
      ASSERT_TRUE(reply.has_value()) << device.Transcript() << "\n" << Log();
      EXPECT_EQ(StringField(*reply, codec::WireKey("service", c.dialect)), "hive-backend") << *reply;
      EXPECT_THAT(StringField(*reply, codec::WireKey("error", c.dialect)), HasSubstr(c.error)) << *reply;
      EXPECT_EQ(StringField(*reply, "cid"), cid) << *reply;
    }
    // The connection stays up: a valid event still goes through (it reaches
    // a subscriber, so the bridge took it and had no error to send for it).
    EventStream& events = SubscribeTo(device);
    device.Send(absl::Substitute(R"({"$0":"device-version","$1":"1"})", codec::WireKey("type", c.dialect),
                                 codec::WireKey("version", c.dialect)));
    EXPECT_TRUE(events.NextMatching(FromDevice(device.device_id(), "device-version"), kReplyTimeout).has_value())
        << device.Transcript() << "\n"
        << Log();
    EXPECT_FALSE(device.NextOfType("error", absl::ZeroDuration()).has_value()) << device.Transcript();
    EXPECT_TRUE(device.open()) << device.Transcript();
  }
};

TEST_P(DeviceBadInputTest, GetsItsOwnErrorAndDisturbsNoOne) {
  const DeviceCase& c = GetParam();
  const std::string uuid = NewId();
  const std::string frame = absl::Substitute(c.frame, uuid);
  if (c.carrier == Carrier::kRawText) {
    SendRaw(frame);
  } else {
    SendFromDevice(frame, absl::Substitute(c.cid, uuid));
  }
  ExpectNoDisruption();
}

std::string Nested(int depth) { return absl::StrCat(std::string(depth, '['), std::string(depth, ']')); }

std::string BatchOf(int count) {
  std::string batch = "[";
  for (int i = 0; i < count; ++i) absl::StrAppend(&batch, i == 0 ? "" : ",", R"({"type":"telemetry"})");
  return batch + "]";
}

INSTANTIATE_TEST_SUITE_P(
    Frames, DeviceBadInputTest,
    ::testing::Values(
        DeviceCase{.name = "MalformedJson", .frame = R"({"type":"device-state",)", .error = "invalid JSON at byte 23"},
        DeviceCase{.name = "EmptyFrame", .frame = "", .error = "invalid JSON at byte 0"},
        DeviceCase{.name = "TrailingGarbage",
                   .frame = R"({"type":"device-state"} {"type":"device-state"})",
                   .error = "invalid JSON at byte 24: unexpected data after the value"},
        DeviceCase{.name = "NeitherObjectNorArray",
                   .frame = "42",
                   .error = "a frame holds a JSON object or an array of objects, got number 42"},
        DeviceCase{.name = "TooDeep", .frame = Nested(33), .error = "JSON nested deeper than 32 levels"},
        // Within the frame limit, over the event limit.
        DeviceCase{.name = "EventOverMaxEventBytes",
                   .frame = absl::StrCat(R"({"type":"telemetry","cid":"$0","pad":")", std::string(2000, 'x'), "\"}"),
                   .error = "over the size limit, --max-event-bytes 1024; event dropped",
                   .cid = "$0"},
        DeviceCase{.name = "BatchTooLong",
                   .frame = BatchOf(kMaxBatch + 1),
                   .error = "batch of 9 messages exceeds the limit of 8"},
        DeviceCase{.name = "NonObjectBatchMember",
                   .frame = R"([{"type":"telemetry"},"oops"])",
                   .error = R"([1]: expected object, got string "oops")"},
        DeviceCase{.name = "BatchMemberErrorEchoesItsCid",
                   .frame = R"([{"type":"telemetry"},{"cid":"c-7","type":7}])",
                   .error = "[1].type: expected non-empty string, got number 7",
                   .cid = "c-7"},
        DeviceCase{.name = "MissingType", .frame = R"({"state":"disk-low"})", .error = "type: missing"},
        DeviceCase{.name = "EmptyType", .frame = R"({"type":""})", .error = "type: expected non-empty string"},
        // A known type whose fields do not fit is relayed with a schema_error,
        // not refused (events_test.cc, MisfitEventTest).
        DeviceCase{.name = "DuplicateKey",
                   .frame = R"({"type":"device-state","state":"ok","state":"disk-low"})",
                   .error = R"(duplicate key "state")"},
        DeviceCase{.name = "DuplicateKeyInANestedObject",
                   .frame = R"({"type":"instance-state","storage_apikeys":{"k":1,"k":2}})",
                   .error = R"(storage_apikeys: duplicate key "k")"},
        DeviceCase{.name = "LoneSurrogateEscape",
                   .frame = R"({"type":"telemetry","text":"\udc00"})",
                   .error = "invalid JSON at byte"},
        DeviceCase{.name = "ReservedType",
                   .frame = R"({"type":"device-connected"})",
                   .error = R"(type: "device-connected" is reserved for the bridge)"},
        DeviceCase{.name = "ResponseToAnUnknownRequest",
                   .frame = R"({"type":"device-response","request":"$0","status":"ack"})",
                   .error = "no pending request",
                   .cid = "$0"},
        DeviceCase{.name = "HivekitAckOfAnUnknownRequest",
                   .frame = R"({"cid":"$0","res":"suc"})",
                   .error = "no pending request",
                   .cid = "$0"},
        DeviceCase{.name = "ResponseWithUnknownStatus",
                   .frame = R"({"type":"device-response","request":"$0","status":"maybe"})",
                   .error = R"(status: unknown status "maybe")",
                   .cid = "$0"},
        DeviceCase{.name = "ResponseWithoutRequest",
                   .frame = R"({"type":"device-response","status":"ack"})",
                   .error = "request: missing"},
        DeviceCase{.name = "ResponseResultNotAnObject",
                   .frame = R"({"type":"device-response","request":"$0","status":"ok","result":[1,2]})",
                   .error = "result: expected object, got array",
                   .cid = "$0"},
        DeviceCase{.name = "ResponseErrorNotAString",
                   .frame = R"({"type":"device-response","request":"$0","status":"error","error":{"code":5}})",
                   .error = "error: expected string, got object",
                   .cid = "$0"},
        DeviceCase{.name = "BinaryFrame",
                   .frame = R"({"type":"device-state"})",
                   .carrier = Carrier::kBinary,
                   .close_code = 1003,
                   .reason = "binary frames are not supported"},
        DeviceCase{.name = "OversizeFrame",
                   .frame = absl::StrCat(R"({"type":"telemetry","pad":")", std::string(kMaxMessageBytes, 'x'), "\"}"),
                   .close_code = 1009,
                   .reason = "too large"},
        DeviceCase{.name = "TooManyBadFramesInARow",
                   .frame = "not json",
                   .times = kMaxBadFrames,
                   .close_code = 1008,
                   .reason = "3 invalid frames in a row"},
        DeviceCase{.name = "InvalidUtf8",
                   .frame = "{\"type\":\"telemetry\",\"text\":\"\xff\xfe\"}",
                   .carrier = Carrier::kRawText,
                   .close_code = 1007,
                   .reason = "Invalid UTF8"}),
    RowName());

// --- From backends ----------------------------------------------------------

// Makes one call; `healthy` is a connected device to aim at.
using GrpcCall = std::function<grpc::Status(Stub& stub, const TestDevice& healthy)>;

struct GrpcCase {
  std::string name;
  GrpcCall call;
  grpc::StatusCode code;
  std::string message;
};

GrpcCall SendWith(std::function<void(SendDeviceRequestRequest&)> adjust) {
  return [adjust](Stub& stub, const TestDevice& healthy) {
    SendDeviceRequestRequest request = RequestTo(healthy.device_id());
    adjust(request);
    return SendRequest(stub, request).status;
  };
}

GrpcCall GetDeviceById(std::string device_id) {
  return [device_id](Stub& stub, const TestDevice&) { return GetDevice(stub, device_id); };
}

GrpcCall ListWith(std::function<void(ListDevicesRequest&)> adjust) {
  return [adjust](Stub& stub, const TestDevice&) {
    grpc::ClientContext context;
    SetDeadline(context, kDefaultCallDeadline);
    ListDevicesRequest request;
    adjust(request);
    hive::bridge::v1::ListDevicesResponse response;
    return stub.ListDevices(&context, request, &response);
  };
}

GrpcCall SubscribeWith(std::function<void(SubscribeEventsRequest&)> adjust) {
  return [adjust](Stub& stub, const TestDevice&) {
    SubscribeEventsRequest request;
    adjust(request);
    return SubscribeStatus(stub, request);
  };
}

class GrpcBadInputTest : public BadInputTest, public ::testing::WithParamInterface<GrpcCase> {};

TEST_P(GrpcBadInputTest, GetsItsOwnStatusAndDisturbsNoOne) {
  grpc::Status status = GetParam().call(stub(), *healthy_);

  EXPECT_EQ(status.error_code(), GetParam().code) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr(GetParam().message));
  ExpectNoDisruption();
}

constexpr auto kInvalid = grpc::StatusCode::INVALID_ARGUMENT;

INSTANTIATE_TEST_SUITE_P(
    Calls, GrpcBadInputTest,
    ::testing::Values(
        GrpcCase{"SendToAnInvalidDeviceUuid",
                 SendWith([](SendDeviceRequestRequest& r) { r.set_device_id("d88f322f-not-a-uuid"); }), kInvalid,
                 R"(device_id: expected a UUID, got "d88f322f-not-a-uuid")"},
        GrpcCase{"SendWithoutDeviceId", SendWith([](SendDeviceRequestRequest& r) { r.clear_device_id(); }), kInvalid,
                 "device_id: required"},
        GrpcCase{"SendWithAnInvalidRequestId",
                 SendWith([](SendDeviceRequestRequest& r) { r.set_request_id("request-1"); }), kInvalid,
                 R"(request_id: expected a UUID, got "request-1")"},
        GrpcCase{"SendWithAnInvalidAccountId", SendWith([](SendDeviceRequestRequest& r) { r.set_account_id("acme"); }),
                 kInvalid, R"(account_id: expected a UUID, got "acme")"},
        GrpcCase{"SendWithoutACommand", SendWith([](SendDeviceRequestRequest& r) { r.clear_command(); }), kInvalid,
                 "command: no command kind is set"},
        GrpcCase{"SendDeviceCommandWithoutAction", SendWith([](SendDeviceRequestRequest& r) {
                   r.mutable_command()->mutable_device_command()->set_action(
                       hive::bridge::v1::DeviceCommand::ACTION_UNSPECIFIED);
                 }),
                 kInvalid, "command.DeviceCommand.action: must be set"},
        GrpcCase{"SendSchedulerActionWithoutAction", SendWith([](SendDeviceRequestRequest& r) {
                   r.mutable_command()->mutable_scheduler_action()->set_instance(
                       "ad51b914-688a-4a5f-a073-5c5121a010e2");
                 }),
                 kInvalid, "command.SchedulerAction.action: must be set"},
        GrpcCase{"SendExtraKeyThatIsATypedFieldsName", SendWith([](SendDeviceRequestRequest& r) {
                   auto& stop = *r.mutable_command()->mutable_scheduler_action();
                   stop.set_action(hive::bridge::v1::SchedulerAction::ACTION_STOP);
                   (*stop.mutable_extra()->mutable_fields())["instance"].set_string_value("twice");
                 }),
                 kInvalid, R"(command.SchedulerAction.extra: key "instance" collides with the field instance)"},
        GrpcCase{
            "SendExtraKeyThatIsATypedFieldsCompactCode", SendWith([](SendDeviceRequestRequest& r) {
              auto& reboot = *r.mutable_command()->mutable_device_command();
              reboot.set_action(hive::bridge::v1::DeviceCommand::ACTION_REBOOT);
              (*reboot.mutable_extra()->mutable_fields())["arg"].set_string_value("twice");
            }),
            kInvalid,
            R"(command.DeviceCommand.extra: key "arg" collides with the field arguments (its compact-dialect key))"},
        GrpcCase{"SendStateExtraKeyThatIsATypedFieldsName", SendWith([](SendDeviceRequestRequest& r) {
                   (*r.mutable_state()->mutable_extra()->mutable_fields())["force"].set_bool_value(true);
                 }),
                 kInvalid, R"(state.extra: key "force" collides with the field force)"},
        GrpcCase{"SendRawCommandWithoutName",
                 SendWith([](SendDeviceRequestRequest& r) { *r.mutable_command() = RawCommand("", R"({"a":1})"); }),
                 kInvalid, "command.raw.command: must not be empty"},
        GrpcCase{"SendPayloadLargerThanADeviceFrame", SendWith([](SendDeviceRequestRequest& r) {
                   *r.mutable_command() = RawCommand(
                       "Blob.store", absl::StrCat(R"({"blob":")", std::string(kMaxMessageBytes, 'b'), "\"}"));
                 }),
                 kInvalid, "over the device frame limit of 4096"},
        GrpcCase{"SendWithNegativeConnectTimeout",
                 SendWith([](SendDeviceRequestRequest& r) { r.mutable_connect_timeout()->set_seconds(-1); }), kInvalid,
                 "connect_timeout: must not be negative"},
        GrpcCase{"SendWithUnknownWaitMode",
                 SendWith([](SendDeviceRequestRequest& r) { r.set_wait(static_cast<hive::bridge::v1::WaitMode>(42)); }),
                 kInvalid, "wait: unknown mode 42"},
        GrpcCase{"GetDeviceWithAnInvalidId", GetDeviceById("42"), kInvalid, R"(device_id: expected a UUID, got "42")"},
        GrpcCase{"GetDeviceWithoutId", GetDeviceById(""), kInvalid, "device_id: expected a UUID"},
        GrpcCase{"GetDeviceThatIsNotConnected", GetDeviceById("00000000-0000-4000-8000-000000000000"),
                 grpc::StatusCode::NOT_FOUND, "device 00000000-0000-4000-8000-000000000000 is not connected"},
        GrpcCase{"ListDevicesWithNegativePageSize", ListWith([](ListDevicesRequest& r) { r.set_page_size(-1); }),
                 kInvalid, "page_size: must be between 0 and 1000, got -1"},
        GrpcCase{"ListDevicesWithTooLargePageSize", ListWith([](ListDevicesRequest& r) { r.set_page_size(1001); }),
                 kInvalid, "page_size: must be between 0 and 1000, got 1001"},
        GrpcCase{"ListDevicesWithABadPageToken", ListWith([](ListDevicesRequest& r) { r.set_page_token("page-2"); }),
                 kInvalid, "page_token: not a token returned by ListDevices"},
        GrpcCase{"ListDevicesWithAnInvalidAccountId", ListWith([](ListDevicesRequest& r) { r.set_account_id("acme"); }),
                 kInvalid, R"(account_id: expected a UUID, got "acme")"},
        GrpcCase{"SubscribeWithAnInvalidAccountId",
                 SubscribeWith([](SubscribeEventsRequest& r) { r.add_account_ids("acme"); }), kInvalid,
                 R"(account_ids[0]: expected a UUID, got "acme")"},
        GrpcCase{"SubscribeWithAnInvalidDeviceId", SubscribeWith([](SubscribeEventsRequest& r) {
                   r.add_device_ids("d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b");
                   r.add_device_ids("7");
                 }),
                 kInvalid, R"(device_ids[1]: expected a UUID, got "7")"},
        GrpcCase{"SubscribeWithAnEmptyType", SubscribeWith([](SubscribeEventsRequest& r) {
                   r.add_types("device-state");
                   r.add_types("");
                 }),
                 kInvalid, "types[1]: must not be empty"},
        GrpcCase{"SubscribeResumingWithoutEpoch",
                 SubscribeWith([](SubscribeEventsRequest& r) { r.mutable_resume_after()->set_sequence(7); }), kInvalid,
                 "resume_after.epoch: required"},
        // The README's placeholder, pasted as is: refused, not a silent gap and replay.
        GrpcCase{
            "SubscribeResumingFromAPlaceholderEpoch", SubscribeWith([](SubscribeEventsRequest& r) {
              r.mutable_resume_after()->set_epoch("<epoch>");
              r.mutable_resume_after()->set_sequence(42);
            }),
            kInvalid,
            R"(resume_after.epoch: expected a UUID, or amqp-stream:VHOST/STREAM as in an event you received, got "<epoch>")"}),
    RowName());

}  // namespace
}  // namespace hive::integration

#include "bridge/bus/cluster_messages.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <variant>

#include "absl/strings/str_cat.h"

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace hive::cluster {
namespace {

using google::protobuf::util::MessageDifferencer;
using google::protobuf::util::TimeUtil;
using hive::bridge::v1::Device;
using hive::bridge::v1::DeviceEvent;
using hive::bridge::v1::SendDeviceRequestRequest;
using hive::bridge::v1::SendDeviceRequestResponse;

constexpr char kDevice[] = "d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b";
constexpr char kAccount[] = "8813b625-29ee-4b7e-9b7a-2d2f1a0c2a11";

DeviceEvent StateEvent() {
  DeviceEvent event;
  event.set_device_id(kDevice);
  event.set_account_id(kAccount);
  event.set_service("hive-device");
  event.set_type("device-state");
  event.mutable_device_state()->set_state("running");
  event.mutable_device_state()->set_disk_free_bytes(18446744073709551615u);
  *event.mutable_received_at() = TimeUtil::NanosecondsToTimestamp(1'700'000'000'123'456'789);
  return event;
}

// What the broker adds to a delivery from the stream.
AmqpMessage Delivered(AmqpMessage message, int64_t offset) {
  message.headers.emplace_back("x-stream-offset", offset);
  return message;
}

TEST(ClusterMessages, EventRoutingKeyIsServiceTypeAccountDevice) {
  EXPECT_EQ(EventRoutingKey(StateEvent()), std::string("hive-device.device-state.") + kAccount + "." + kDevice);
}

TEST(ClusterMessages, EventTravelsAsTheSeedsJsonAndComesBackEqualWithItsReceivedAt) {
  AmqpMessage message = EncodeEvent(StateEvent(), "message-1", "replica-a");
  EXPECT_EQ(message.content_type, "application/json");
  EXPECT_EQ(message.message_id, "message-1");
  EXPECT_TRUE(message.persistent);
  EXPECT_THAT(message.body, ::testing::HasSubstr("\"type\":\"device-state\""));
  EXPECT_THAT(message.body, ::testing::HasSubstr("18446744073709551615"));
  absl::StatusOr<DeviceEvent> decoded = DecodeEvent(Delivered(message, 41));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*decoded, StateEvent())) << decoded->DebugString();
  absl::StatusOr<uint64_t> offset = StreamOffsetOf(Delivered(message, 41));
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(*offset, 41u);
}

// A compact-dialect device's extra member "type" cannot sit beside the
// standard "type" in standard JSON; the replicas still get the event whole.
TEST(ClusterMessages, EventWithAnExtraMemberSpelledLikeAStandardKeyReachesReplicasWhole) {
  DeviceEvent event = StateEvent();
  (*event.mutable_extra()->mutable_fields())["type"].set_string_value("vendor-type");
  absl::StatusOr<DeviceEvent> decoded = DecodeEvent(Delivered(EncodeEvent(event, "message-2", "replica-a"), 7));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*decoded, event)) << decoded->DebugString();
}

TEST(ClusterMessages, EventWithoutTheEventHeaderIsReadFromItsJson) {
  AmqpMessage message = EncodeEvent(StateEvent(), "message-3", "replica-a");
  message.headers.erase(std::remove_if(message.headers.begin(), message.headers.end(),
                                       [](const auto& header) { return header.first == "x-hive-event"; }),
                        message.headers.end());
  absl::StatusOr<DeviceEvent> decoded = DecodeEvent(Delivered(message, 8));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*decoded, StateEvent())) << decoded->DebugString();
}

// An event whose fields did not fit its type: the JSON for other consumers is
// the device's fields as sent, the verdict rides in a header of its own.
TEST(ClusterMessages, MisfitEventTravelsAsTheDevicesFieldsWithItsSchemaErrorInAHeader) {
  DeviceEvent event;
  event.set_device_id(kDevice);
  event.set_account_id(kAccount);
  event.set_service("hive-device");
  event.set_type("device-state");
  event.mutable_generic();
  (*event.mutable_extra()->mutable_fields())["disk_free_bytes"].set_number_value(-5);
  event.set_schema_error("disk_free_bytes: expected unsigned 64-bit integer, got number -5");
  AmqpMessage message = EncodeEvent(event, "message-5", "replica-a");
  EXPECT_EQ(message.body, std::string(R"({"device":")") + kDevice + R"(","account":")" + kAccount +
                              R"(","service":"hive-device","type":"device-state","disk_free_bytes":-5})");
  const AmqpValue* header = FindAmqpValue(message.headers, "x-hive-schema-error");
  ASSERT_NE(header, nullptr);
  EXPECT_EQ(std::get<std::string>(*header), event.schema_error());
  absl::StatusOr<DeviceEvent> decoded = DecodeEvent(Delivered(message, 9));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*decoded, event)) << decoded->DebugString();
  // A well-formed event has no such header.
  EXPECT_EQ(FindAmqpValue(EncodeEvent(StateEvent(), "message-6", "replica-a").headers, "x-hive-schema-error"), nullptr);
  // Read from its JSON alone (another publisher's), it gets the same verdict.
  message.headers.erase(std::remove_if(message.headers.begin(), message.headers.end(),
                                       [](const auto& h) { return h.first == "x-hive-event"; }),
                        message.headers.end());
  decoded = DecodeEvent(message);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->schema_error(), event.schema_error());
  EXPECT_TRUE(decoded->has_generic());
}

TEST(ClusterMessages, CorruptEventHeaderIsAnErrorNamingIt) {
  AmqpMessage message = EncodeEvent(StateEvent(), "message-4", "replica-a");
  for (auto& [name, value] : message.headers) {
    if (name == "x-hive-event") value = std::string("%%% not base64");
  }
  absl::Status status = DecodeEvent(message).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("x-hive-event"));
}

TEST(ClusterMessages, ForeignMessageOnTheEventExchangeIsAnErrorNotACrash) {
  AmqpMessage message;
  message.body = "not json";
  EXPECT_EQ(DecodeEvent(message).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(StreamOffsetOf(message).ok());
}

TEST(ClusterMessages, RoutedRequestCarriesItsTimeoutAsExpiryAndHeader) {
  SendDeviceRequestRequest request;
  request.set_device_id(kDevice);
  request.set_request_id("6f1c2f44-98a2-4d0c-9a53-8f6a1cbb6a10");
  request.mutable_command()->mutable_raw()->set_command("reboot");
  AmqpMessage message = EncodeRoutedRequest(request, absl::Milliseconds(1500), "7", "hive.replies.a");
  EXPECT_EQ(message.expiration, "1500");
  EXPECT_EQ(message.correlation_id, "7");
  EXPECT_EQ(message.reply_to, "hive.replies.a");
  absl::StatusOr<RoutedRequest> routed = DecodeRoutedRequest(message);
  ASSERT_TRUE(routed.ok()) << routed.status();
  EXPECT_TRUE(MessageDifferencer::Equals(routed->request, request));
  EXPECT_EQ(routed->timeout, absl::Milliseconds(1500));
}

TEST(ClusterMessages, RoutedRequestCarriesTheCallersTraceparentInAHeader) {
  SendDeviceRequestRequest request;
  request.set_device_id(kDevice);
  request.mutable_command()->mutable_raw()->set_command("reboot");
  constexpr char kTraceparent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  AmqpMessage message = EncodeRoutedRequest(request, absl::Seconds(1), "7", "hive.replies.a", kTraceparent);
  const AmqpValue* header = FindAmqpValue(message.headers, "traceparent");
  ASSERT_NE(header, nullptr);
  ASSERT_TRUE(std::holds_alternative<std::string>(*header));
  EXPECT_EQ(std::get<std::string>(*header), kTraceparent);
  absl::StatusOr<RoutedRequest> routed = DecodeRoutedRequest(message);
  ASSERT_TRUE(routed.ok()) << routed.status();
  EXPECT_EQ(routed->traceparent, kTraceparent);

  // None given: no header, and none read back.
  AmqpMessage untraced = EncodeRoutedRequest(request, absl::Seconds(1), "8", "hive.replies.a");
  EXPECT_EQ(FindAmqpValue(untraced.headers, "traceparent"), nullptr);
  ASSERT_TRUE(DecodeRoutedRequest(untraced).ok());
  EXPECT_EQ(DecodeRoutedRequest(untraced)->traceparent, "");

  // Anyone may publish on the virtual host: a header that is no traceparent
  // is dropped (the request itself still goes through).
  for (AmqpValue bad : {AmqpValue(std::string("00-not-a-trace")), AmqpValue(int64_t{7})}) {
    AmqpMessage forged = message;
    for (auto& [name, value] : forged.headers) {
      if (name == "traceparent") value = bad;
    }
    absl::StatusOr<RoutedRequest> read = DecodeRoutedRequest(forged);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->traceparent, "");
  }
}

TEST(ClusterMessages, AnswerCarriesTheResponseOrTheExactStatusAndWhoAnswered) {
  SendDeviceRequestResponse response;
  response.set_request_id("r-1");
  response.set_status(hive::bridge::v1::REQUEST_STATUS_SUCCEEDED);
  Answer ok = DecodeAnswer(EncodeAnswer({response, "replica-a", true}, "1"));
  ASSERT_TRUE(ok.outcome.ok()) << ok.outcome.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*ok.outcome, response));
  EXPECT_EQ(ok.replica, "replica-a");
  EXPECT_TRUE(ok.holder);

  absl::Status denied = absl::PermissionDeniedError("device x does not belong to account y");
  Answer refused = DecodeAnswer(EncodeAnswer({denied, "replica-b", false}, "2"));
  EXPECT_EQ(refused.outcome.status(), denied);
  EXPECT_FALSE(refused.holder);
}

// An answer whose status code header says `code`, as anyone able to publish
// to the reply queue could write it.
AmqpMessage AnswerWithCode(int64_t code) {
  AmqpMessage message = EncodeAnswer({absl::NotFoundError("device x is not connected"), "replica-c", true}, "3");
  for (auto& [name, value] : message.headers) {
    if (name == "x-hive-status-code") value = code;
  }
  return message;
}

TEST(ClusterMessages, AnswerWithAStatusCodeOutsideTheCanonicalRangeIsInternalNamingTheCode) {
  for (int64_t code : {int64_t{17}, int64_t{-1}, int64_t{1} << 40, INT64_MIN}) {
    Answer answer = DecodeAnswer(AnswerWithCode(code));
    ASSERT_FALSE(answer.outcome.ok()) << code;
    EXPECT_EQ(answer.outcome.status().code(), absl::StatusCode::kInternal) << code;
    EXPECT_THAT(std::string(answer.outcome.status().message()),
                ::testing::HasSubstr(absl::StrCat("status code ", code, " is not a gRPC status code")));
  }
}

TEST(ClusterMessages, AnswerWithEveryCanonicalStatusCodeKeepsIt) {
  for (int64_t code = 1; code <= 16; ++code) {
    Answer answer = DecodeAnswer(AnswerWithCode(code));
    EXPECT_EQ(static_cast<int64_t>(answer.outcome.status().code()), code);
    EXPECT_EQ(answer.outcome.status().message(), "device x is not connected");
  }
}

TEST(ClusterMessages, PresenceRoundTripsEveryKindWithItsDevices) {
  Device device;
  device.set_device_id(kDevice);
  device.set_replica("replica-b");
  for (PresenceKind kind : {PresenceKind::kConnected, PresenceKind::kDisconnected, PresenceKind::kSnapshot,
                            PresenceKind::kHeartbeat, PresenceKind::kHello, PresenceKind::kGoodbye}) {
    absl::StatusOr<Presence> presence = DecodePresence(EncodePresence({kind, "replica-b", {device}}));
    ASSERT_TRUE(presence.ok()) << presence.status();
    EXPECT_EQ(presence->kind, kind);
    EXPECT_EQ(presence->replica, "replica-b");
    ASSERT_EQ(presence->devices.size(), 1u);
    EXPECT_EQ(presence->devices[0].device_id(), kDevice);
  }
}

TEST(ClusterMessages, PresenceWithoutKindOrReplicaIsRefusedByName) {
  AmqpMessage message = EncodePresence({PresenceKind::kHeartbeat, "a", {}});
  message.headers.clear();
  EXPECT_THAT(std::string(DecodePresence(message).status().message()), ::testing::HasSubstr("unknown kind"));
}

TEST(ClusterMessages, QueuedOperationTravelsWithItsRequestDigestAndTimes) {
  QueueOp op;
  op.kind = QueueOp::Kind::kQueued;
  op.id = "op-1";
  op.replica = "replica-1";
  op.at = absl::FromUnixNanos(1'700'000'000'123'456'789);
  op.request_id = "0f8e4a7c-2a53-4b52-9d6e-5b8f1f6f2d11";
  op.request.set_request_id(op.request_id);
  op.request.set_device_id(kDevice);
  op.request.mutable_command()->mutable_raw()->set_command("Thing.do");
  op.digest = 0xfedcba9876543210ULL;  // over INT64_MAX: travels as its bits
  op.expires_at = op.at + absl::Hours(1);
  AmqpMessage message = EncodeQueueOp(op);
  EXPECT_TRUE(message.persistent);
  absl::StatusOr<QueueOp> back = DecodeQueueOp(message);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->kind, QueueOp::Kind::kQueued);
  EXPECT_EQ(back->id, "op-1");
  EXPECT_EQ(back->replica, "replica-1");
  EXPECT_EQ(back->at, op.at);
  EXPECT_EQ(back->expires_at, op.expires_at);
  EXPECT_EQ(back->digest, op.digest);
  EXPECT_TRUE(MessageDifferencer::Equals(back->request, op.request));
}

TEST(ClusterMessages, ProgressAndReleaseOperationsTravelWithTheirFields) {
  QueueOp progress;
  progress.kind = QueueOp::Kind::kProgress;
  progress.id = "op-2";
  progress.replica = "replica-2";
  progress.request_id = "r";
  progress.status = hive::bridge::v1::REQUEST_STATUS_SUCCEEDED;
  progress.outcome.set_status(hive::bridge::v1::REQUEST_STATUS_SUCCEEDED);
  progress.error = "none";
  progress.ended = true;
  absl::StatusOr<QueueOp> back = DecodeQueueOp(EncodeQueueOp(progress));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->status, hive::bridge::v1::REQUEST_STATUS_SUCCEEDED);
  EXPECT_EQ(back->outcome.status(), hive::bridge::v1::REQUEST_STATUS_SUCCEEDED);
  EXPECT_EQ(back->error, "none");
  EXPECT_TRUE(back->ended);

  QueueOp release;
  release.kind = QueueOp::Kind::kRelease;
  release.id = "op-3";
  release.replica = "replica-2";
  release.request_id = "r";
  release.claim = "op-1";
  back = DecodeQueueOp(EncodeQueueOp(release));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->claim, "op-1");
}

TEST(ClusterMessages, QueueOperationFromAnotherPublisherIsRefusedNamingWhy) {
  AmqpMessage message;
  message.message_id = "x";
  EXPECT_THAT(std::string(DecodeQueueOp(message).status().message()), ::testing::HasSubstr("unknown kind"));
  QueueOp progress;
  progress.kind = QueueOp::Kind::kProgress;
  progress.id = "op";
  progress.replica = "replica-1";
  progress.request_id = "r";
  message = EncodeQueueOp(progress);
  for (auto& [name, value] : message.headers) {
    if (name == "x-hive-request-status") value = int64_t{99};
  }
  EXPECT_THAT(std::string(DecodeQueueOp(message).status().message()), ::testing::HasSubstr("unknown request status"));
}

}  // namespace
}  // namespace hive::cluster

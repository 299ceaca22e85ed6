#include "bridge/bus/cluster_messages.h"

#include <cstdint>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "bridge/codec/device_event.h"
#include "bridge/codec/json_document.h"
#include "bridge/codec/json_path.h"
#include "bridge/stream_epoch.h"
#include "bridge/trace_context.h"
#include "google/protobuf/util/time_util.h"

namespace hive::cluster {
namespace {

using google::protobuf::util::TimeUtil;
using hive::bridge::v1::Device;
using hive::bridge::v1::DeviceEvent;
using hive::bridge::v1::ListDevicesResponse;
using hive::bridge::v1::SendDeviceRequestRequest;
using hive::bridge::v1::SendDeviceRequestResponse;

constexpr absl::string_view kReplicaHeader = "x-hive-replica";
constexpr absl::string_view kReceivedAtHeader = "x-hive-received-at-ns";
constexpr absl::string_view kTimeoutHeader = "x-hive-timeout-ms";
constexpr absl::string_view kStatusCodeHeader = "x-hive-status-code";
constexpr absl::string_view kStatusMessageHeader = "x-hive-status-message";
constexpr absl::string_view kHolderHeader = "x-hive-holder";
constexpr absl::string_view kPresenceHeader = "x-hive-presence";
constexpr absl::string_view kEventHeader = "x-hive-event";
// Set on an event whose fields did not fit its known type (its JSON body is
// then the device's fields as sent; see DeviceEvent.schema_error).
constexpr absl::string_view kSchemaErrorHeader = "x-hive-schema-error";
constexpr absl::string_view kStreamOffsetHeader = "x-stream-offset";
constexpr absl::string_view kQueueOpHeader = "x-hive-queue-op";
constexpr absl::string_view kRequestIdHeader = "x-hive-request-id";
constexpr absl::string_view kAtHeader = "x-hive-at-ns";
constexpr absl::string_view kExpiresAtHeader = "x-hive-expires-at-ns";
constexpr absl::string_view kDigestHeader = "x-hive-digest";
constexpr absl::string_view kClaimHeader = "x-hive-claim";
constexpr absl::string_view kRequestStatusHeader = "x-hive-request-status";
constexpr absl::string_view kErrorHeader = "x-hive-error";
constexpr absl::string_view kEndedHeader = "x-hive-ended";
// W3C Trace Context's own name, as on HTTP and gRPC.
constexpr absl::string_view kTraceparentHeader = "traceparent";
constexpr absl::string_view kProtobuf = "application/x-protobuf";
// The highest canonical status code (UNAUTHENTICATED); absl and gRPC share
// the numbering.
constexpr int64_t kLastStatusCode = static_cast<int64_t>(absl::StatusCode::kUnauthenticated);

constexpr std::pair<PresenceKind, absl::string_view> kPresenceNames[] = {
    {PresenceKind::kConnected, "connected"}, {PresenceKind::kDisconnected, "disconnected"},
    {PresenceKind::kSnapshot, "snapshot"},   {PresenceKind::kHeartbeat, "heartbeat"},
    {PresenceKind::kHello, "hello"},         {PresenceKind::kGoodbye, "goodbye"},
};

constexpr std::pair<QueueOp::Kind, absl::string_view> kQueueOpNames[] = {
    {QueueOp::Kind::kQueued, "queued"},     {QueueOp::Kind::kClaim, "claim"},   {QueueOp::Kind::kRelease, "release"},
    {QueueOp::Kind::kProgress, "progress"}, {QueueOp::Kind::kCancel, "cancel"}, {QueueOp::Kind::kExpire, "expire"},
    {QueueOp::Kind::kOrphan, "orphan"},     {QueueOp::Kind::kMarker, "marker"},
};

absl::StatusOr<int64_t> IntHeader(const AmqpMessage& message, absl::string_view name) {
  const AmqpValue* value = FindAmqpValue(message.headers, name);
  if (value == nullptr || !std::holds_alternative<int64_t>(*value)) {
    return absl::InvalidArgumentError(absl::StrCat("missing integer header ", name));
  }
  return std::get<int64_t>(*value);
}

std::string TextHeader(const AmqpMessage& message, absl::string_view name) {
  const AmqpValue* value = FindAmqpValue(message.headers, name);
  return value != nullptr && std::holds_alternative<std::string>(*value) ? std::get<std::string>(*value) : "";
}

}  // namespace

std::string RequestQueueOf(absl::string_view replica) { return absl::StrCat("hive.requests.", replica); }
std::string ReplyQueueOf(absl::string_view replica) { return absl::StrCat("hive.replies.", replica); }
std::string PresenceQueueOf(absl::string_view replica) { return absl::StrCat("hive.presence.", replica); }

std::string StreamEpoch(absl::string_view vhost) { return ClusterEpoch(vhost, kEventStream); }

std::string EventRoutingKey(const DeviceEvent& event) {
  return absl::StrCat(event.service(), ".", event.type(), ".", event.account_id(), ".", event.device_id());
}

AmqpMessage EncodeEvent(const DeviceEvent& event, std::string message_id, absl::string_view replica) {
  AmqpMessage message;
  message.body = codec::EncodeDeviceEvent(event, codec::Dialect::kStandard);
  message.content_type = "application/json";
  message.message_id = std::move(message_id);
  message.persistent = true;
  message.headers = {{std::string(kReplicaHeader), std::string(replica)},
                     {std::string(kReceivedAtHeader), TimeUtil::TimestampToNanoseconds(event.received_at())},
                     {std::string(kEventHeader), absl::Base64Escape(event.SerializeAsString())}};
  if (!event.schema_error().empty()) {
    message.headers.emplace_back(std::string(kSchemaErrorHeader), event.schema_error());
  }
  return message;
}

absl::StatusOr<DeviceEvent> DecodeEvent(const AmqpMessage& message) {
  if (const AmqpValue* header = FindAmqpValue(message.headers, kEventHeader)) {
    std::string bytes;
    DeviceEvent event;
    if (!std::holds_alternative<std::string>(*header) ||
        !absl::Base64Unescape(std::get<std::string>(*header), &bytes) || !event.ParseFromString(bytes)) {
      return absl::InvalidArgumentError(absl::StrCat("header ", kEventHeader, ": not a base64 DeviceEvent"));
    }
    event.clear_sequence();
    event.clear_epoch();
    return event;
  }
  rapidjson::Document document;
  if (absl::Status parsed = codec::ParseJson(message.body, codec::ParseLimits{}, document); !parsed.ok()) {
    return parsed;
  }
  codec::JsonPath path;
  absl::StatusOr<DeviceEvent> event = codec::DecodeDeviceEvent(document, codec::Dialect::kStandard, path);
  if (!event.ok()) return event.status();
  if (absl::StatusOr<int64_t> received_at = IntHeader(message, kReceivedAtHeader); received_at.ok()) {
    *event->mutable_received_at() = TimeUtil::NanosecondsToTimestamp(*received_at);
  }
  return event;
}

absl::StatusOr<uint64_t> StreamOffsetOf(const AmqpMessage& message) {
  absl::StatusOr<int64_t> offset = IntHeader(message, kStreamOffsetHeader);
  if (!offset.ok()) return offset.status();
  if (*offset < 0) return absl::InvalidArgumentError("negative stream offset");
  return static_cast<uint64_t>(*offset);
}

AmqpMessage EncodeRoutedRequest(const SendDeviceRequestRequest& request, absl::Duration timeout,
                                std::string correlation_id, std::string reply_to, absl::string_view traceparent) {
  AmqpMessage message;
  message.body = request.SerializeAsString();
  message.content_type = std::string(kProtobuf);
  message.correlation_id = std::move(correlation_id);
  message.reply_to = std::move(reply_to);
  const int64_t timeout_ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout));
  // A request still queued when its caller has given up is of no use.
  message.expiration = absl::StrCat(timeout_ms);
  message.headers = {{std::string(kTimeoutHeader), timeout_ms}};
  if (!traceparent.empty()) message.headers.emplace_back(std::string(kTraceparentHeader), std::string(traceparent));
  return message;
}

absl::StatusOr<RoutedRequest> DecodeRoutedRequest(const AmqpMessage& message) {
  RoutedRequest routed;
  if (!routed.request.ParseFromString(message.body)) {
    return absl::InvalidArgumentError("routed request: not a SendDeviceRequestRequest");
  }
  absl::StatusOr<int64_t> timeout_ms = IntHeader(message, kTimeoutHeader);
  if (!timeout_ms.ok()) return timeout_ms.status();
  routed.timeout = absl::Milliseconds(*timeout_ms);
  std::string traceparent = TextHeader(message, kTraceparentHeader);
  if (ParseTraceparent(traceparent).has_value()) routed.traceparent = std::move(traceparent);
  return routed;
}

AmqpMessage EncodeAnswer(const Answer& answer, std::string correlation_id) {
  AmqpMessage message;
  message.content_type = std::string(kProtobuf);
  message.correlation_id = std::move(correlation_id);
  const absl::Status status = answer.outcome.status();
  message.headers = {{std::string(kStatusCodeHeader), static_cast<int64_t>(status.code())},
                     {std::string(kStatusMessageHeader), std::string(status.message())},
                     {std::string(kReplicaHeader), answer.replica},
                     {std::string(kHolderHeader), int64_t{answer.holder ? 1 : 0}}};
  if (answer.outcome.ok()) message.body = answer.outcome->SerializeAsString();
  return message;
}

Answer DecodeAnswer(const AmqpMessage& message) {
  Answer answer;
  answer.replica = TextHeader(message, kReplicaHeader);
  absl::StatusOr<int64_t> holder = IntHeader(message, kHolderHeader);
  answer.holder = !holder.ok() || *holder != 0;
  absl::StatusOr<int64_t> code = IntHeader(message, kStatusCodeHeader);
  if (!code.ok()) {
    answer.outcome = absl::InternalError("answer from another replica: no status");
  } else if (*code < 0 || *code > kLastStatusCode) {
    // The broker carries whatever a peer (or anyone who can publish) wrote:
    // a code outside absl's range is no status at all.
    answer.outcome = absl::InternalError(absl::StrCat("answer from another replica: status code ", *code,
                                                      " is not a gRPC status code (0 to ", kLastStatusCode, ")"));
  } else if (*code != 0) {
    answer.outcome = absl::Status(static_cast<absl::StatusCode>(*code), TextHeader(message, kStatusMessageHeader));
  } else {
    SendDeviceRequestResponse response;
    if (response.ParseFromString(message.body)) {
      answer.outcome = std::move(response);
    } else {
      answer.outcome = absl::InternalError("answer from another replica: not a SendDeviceRequestResponse");
    }
  }
  return answer;
}

AmqpMessage EncodePresence(const Presence& presence) {
  AmqpMessage message;
  message.content_type = std::string(kProtobuf);
  absl::string_view kind;
  for (const auto& [value, name] : kPresenceNames) {
    if (value == presence.kind) kind = name;
  }
  message.headers = {{std::string(kPresenceHeader), std::string(kind)},
                     {std::string(kReplicaHeader), presence.replica}};
  ListDevicesResponse devices;
  for (const Device& device : presence.devices) *devices.add_devices() = device;
  message.body = devices.SerializeAsString();
  return message;
}

absl::StatusOr<Presence> DecodePresence(const AmqpMessage& message) {
  Presence presence;
  const std::string kind = TextHeader(message, kPresenceHeader);
  bool known = false;
  for (const auto& [value, name] : kPresenceNames) {
    if (name == kind) {
      presence.kind = value;
      known = true;
    }
  }
  if (!known) return absl::InvalidArgumentError(absl::StrCat("presence: unknown kind \"", kind, "\""));
  presence.replica = TextHeader(message, kReplicaHeader);
  if (presence.replica.empty()) return absl::InvalidArgumentError("presence: no replica");
  ListDevicesResponse devices;
  if (!devices.ParseFromString(message.body)) return absl::InvalidArgumentError("presence: bad device list");
  presence.devices.assign(std::make_move_iterator(devices.mutable_devices()->begin()),
                          std::make_move_iterator(devices.mutable_devices()->end()));
  return presence;
}

AmqpMessage EncodeQueueOp(const QueueOp& op) {
  AmqpMessage message;
  message.content_type = std::string(kProtobuf);
  message.message_id = op.id;
  message.persistent = true;
  absl::string_view kind;
  for (const auto& [value, name] : kQueueOpNames) {
    if (value == op.kind) kind = name;
  }
  message.headers = {{std::string(kQueueOpHeader), std::string(kind)},
                     {std::string(kReplicaHeader), op.replica},
                     {std::string(kAtHeader), absl::ToUnixNanos(op.at)},
                     {std::string(kRequestIdHeader), op.request_id}};
  switch (op.kind) {
    case QueueOp::Kind::kQueued:
      message.body = op.request.SerializeAsString();
      message.headers.emplace_back(std::string(kExpiresAtHeader), absl::ToUnixNanos(op.expires_at));
      // The digest's 64 bits, as AMQP's signed integer.
      message.headers.emplace_back(std::string(kDigestHeader), static_cast<int64_t>(op.digest));
      break;
    case QueueOp::Kind::kProgress:
      message.body = op.outcome.SerializeAsString();
      message.headers.emplace_back(std::string(kRequestStatusHeader), static_cast<int64_t>(op.status));
      message.headers.emplace_back(std::string(kErrorHeader), op.error);
      message.headers.emplace_back(std::string(kEndedHeader), int64_t{op.ended ? 1 : 0});
      break;
    case QueueOp::Kind::kRelease:
    case QueueOp::Kind::kOrphan:
      message.headers.emplace_back(std::string(kClaimHeader), op.claim);
      break;
    default:
      break;
  }
  return message;
}

absl::StatusOr<QueueOp> DecodeQueueOp(const AmqpMessage& message) {
  QueueOp op;
  const std::string kind = TextHeader(message, kQueueOpHeader);
  bool known = false;
  for (const auto& [value, name] : kQueueOpNames) {
    if (name == kind) {
      op.kind = value;
      known = true;
    }
  }
  if (!known) return absl::InvalidArgumentError(absl::StrCat("queue op: unknown kind \"", kind, "\""));
  op.id = message.message_id;
  if (op.id.empty()) return absl::InvalidArgumentError("queue op: no message_id");
  op.replica = TextHeader(message, kReplicaHeader);
  if (op.replica.empty()) return absl::InvalidArgumentError("queue op: no replica");
  absl::StatusOr<int64_t> at = IntHeader(message, kAtHeader);
  if (!at.ok()) return at.status();
  op.at = absl::FromUnixNanos(*at);
  op.request_id = TextHeader(message, kRequestIdHeader);
  if (op.request_id.empty() && op.kind != QueueOp::Kind::kMarker) {
    return absl::InvalidArgumentError("queue op: no request id");
  }
  switch (op.kind) {
    case QueueOp::Kind::kQueued: {
      if (!op.request.ParseFromString(message.body)) {
        return absl::InvalidArgumentError("queue op: not a SendDeviceRequestRequest");
      }
      absl::StatusOr<int64_t> expires_at = IntHeader(message, kExpiresAtHeader);
      if (!expires_at.ok()) return expires_at.status();
      op.expires_at = absl::FromUnixNanos(*expires_at);
      absl::StatusOr<int64_t> digest = IntHeader(message, kDigestHeader);
      if (!digest.ok()) return digest.status();
      op.digest = static_cast<RequestCorrelator::Digest>(*digest);
      break;
    }
    case QueueOp::Kind::kProgress: {
      if (!op.outcome.ParseFromString(message.body)) {
        return absl::InvalidArgumentError("queue op: not a SendDeviceRequestResponse");
      }
      absl::StatusOr<int64_t> status = IntHeader(message, kRequestStatusHeader);
      if (!status.ok()) return status.status();
      if (*status < 0 || *status > INT32_MAX || !hive::bridge::v1::RequestStatus_IsValid(static_cast<int>(*status))) {
        return absl::InvalidArgumentError(absl::StrCat("queue op: unknown request status ", *status));
      }
      op.status = static_cast<hive::bridge::v1::RequestStatus>(*status);
      op.error = TextHeader(message, kErrorHeader);
      absl::StatusOr<int64_t> ended = IntHeader(message, kEndedHeader);
      op.ended = ended.ok() && *ended != 0;
      break;
    }
    case QueueOp::Kind::kRelease:
    case QueueOp::Kind::kOrphan:
      op.claim = TextHeader(message, kClaimHeader);
      if (op.claim.empty()) return absl::InvalidArgumentError("queue op: no claim");
      break;
    default:
      break;
  }
  return op;
}

}  // namespace hive::cluster

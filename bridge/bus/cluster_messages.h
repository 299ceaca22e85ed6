// bridge/bus/cluster_messages.h
// What the replicas of a cluster say to each other over RabbitMQ, as AMQP
// messages: the broker topology's names, device events in the seed's JSON
// (so existing RabbitMQ consumers of hive.events keep working), requests
// routed to the replica holding a device and their answers, and presence.
// Pure functions, so the wire format is tested without a broker.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bridge/bus/amqp_connection.h"
#include "bridge/queue/queue_op.h"
#include "hive/bridge/v1/device_bridge.pb.h"
#include "hive/bridge/v1/events.pb.h"

namespace hive::cluster {

// Topic exchange of device events, routing key <service>.<type>.<account>.<device>.
inline constexpr absl::string_view kEventsExchange = "hive.events";
// Direct exchange of requests, routing key = device id.
inline constexpr absl::string_view kRequestsExchange = "hive.requests";
// Fanout exchange of presence announcements.
inline constexpr absl::string_view kPresenceExchange = "hive.presence";
// The stream every replica reads the fleet's events from; its offsets are
// the events' sequences, alike on every replica.
inline constexpr absl::string_view kEventStream = "hive.events.stream";
// The fleet's log of queued-request operations (bridge/queue/queue_op.h),
// published to it through the default exchange; every replica reads it from
// its first offset.
inline constexpr absl::string_view kQueueStream = "hive.queue.stream";

std::string RequestQueueOf(absl::string_view replica);
std::string ReplyQueueOf(absl::string_view replica);
std::string PresenceQueueOf(absl::string_view replica);

// The epoch of the fleet's event stream on a virtual host.
std::string StreamEpoch(absl::string_view vhost);

std::string EventRoutingKey(const hive::bridge::v1::DeviceEvent& event);

// The seed's JSON of the event (standard dialect), persistent, with a unique
// message id (the consumers' duplicate check), the replica and received_at in
// headers. The replicas read the event itself from one more header (its
// protobuf, base64): the JSON is for other consumers, and not every event has
// one (a compact-dialect device may send an extra member spelled like a
// standard key, which standard JSON would have to write twice). An event
// relayed with a schema_error has its device's fields as sent in the JSON, and
// the schema_error in the header x-hive-schema-error.
AmqpMessage EncodeEvent(const hive::bridge::v1::DeviceEvent& event, std::string message_id, absl::string_view replica);
// The event back, with received_at restored; no sequence or epoch yet. A
// message without the event header (another publisher) is read from its JSON;
// with a cluster key such a message is refused before it gets here, being
// unsigned (message_signer.h).
absl::StatusOr<hive::bridge::v1::DeviceEvent> DecodeEvent(const AmqpMessage& message);
// The stream offset the broker stamped on a delivery from kEventStream.
absl::StatusOr<uint64_t> StreamOffsetOf(const AmqpMessage& message);

// A SendDeviceRequest for the replica holding the device; it gives up after
// `timeout` (relative, so the replicas' clocks need not agree). A non-empty
// `traceparent` (the caller's call as the parent, bridge/trace_context.h)
// travels in the header `traceparent`.
AmqpMessage EncodeRoutedRequest(const hive::bridge::v1::SendDeviceRequestRequest& request, absl::Duration timeout,
                                std::string correlation_id, std::string reply_to, absl::string_view traceparent = {});
struct RoutedRequest {
  hive::bridge::v1::SendDeviceRequestRequest request;
  absl::Duration timeout;
  // Empty when the message had none or one that is not a valid traceparent
  // (anyone who may publish on the virtual host can write one).
  std::string traceparent;
};
absl::StatusOr<RoutedRequest> DecodeRoutedRequest(const AmqpMessage& message);

// A replica's answer to a routed request: the response, or the error status
// it finished with. `holder` says the replica holds the device; a replica
// that does not (the request reached it through a binding about to go, while
// the device moves) only says so, and the caller waits for the holder.
struct Answer {
  absl::StatusOr<hive::bridge::v1::SendDeviceRequestResponse> outcome;
  std::string replica;
  bool holder = true;
};
AmqpMessage EncodeAnswer(const Answer& answer, std::string correlation_id);
Answer DecodeAnswer(const AmqpMessage& message);

enum class PresenceKind {
  // A replica's device connected (body: Device).
  kConnected,
  // A replica's device left (body: Device with device_id).
  kDisconnected,
  // Every device of a replica (body: ListDevicesResponse).
  kSnapshot,
  // A replica is alive (no body).
  kHeartbeat,
  // A replica (re)joined: every replica answers with its snapshot.
  kHello,
  // A replica is shutting down.
  kGoodbye,
};

struct Presence {
  PresenceKind kind = PresenceKind::kHeartbeat;
  std::string replica;
  std::vector<hive::bridge::v1::Device> devices;
};

AmqpMessage EncodePresence(const Presence& presence);
absl::StatusOr<Presence> DecodePresence(const AmqpMessage& message);

// A queued-request operation: its fields in headers (message_id is the op
// id), the request (kQueued) or the outcome (kProgress) as protobuf in the
// body; persistent.
AmqpMessage EncodeQueueOp(const QueueOp& op);
// INVALID_ARGUMENT naming what is wrong for a message that is not one (the
// stream is writable by anyone who may publish on the virtual host).
absl::StatusOr<QueueOp> DecodeQueueOp(const AmqpMessage& message);

}  // namespace hive::cluster

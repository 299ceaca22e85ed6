#include "bridge/bus/presence_tracker.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/bus/amqp_driver.h"
#include "bridge/bus/cluster_messages.h"
#include "bridge/log.h"
#include "bridge/status_macros.h"
#include "google/protobuf/util/time_util.h"

namespace hive {
namespace {

using google::protobuf::util::TimeUtil;
using hive::bridge::v1::Device;

constexpr amqp_channel_t kPresenceChannel = 1;
constexpr absl::string_view kPresenceConsumer = "presence";

}  // namespace

PresenceTracker::PresenceTracker(PresenceTrackerOptions options, const Clock& clock, ClusterSignatures& signatures,
                                 LocalDevices& local, FleetDirectory& fleet, ReplicaGone gone, SnapshotWanted snapshot)
    : options_(std::move(options)),
      clock_(clock),
      signatures_(signatures),
      local_(local),
      fleet_(fleet),
      gone_(std::move(gone)),
      snapshot_(std::move(snapshot)),
      queue_(cluster::PresenceQueueOf(options_.replica_id)) {}

std::vector<amqp_channel_t> PresenceTracker::channels() const { return {kPresenceChannel}; }

absl::Status PresenceTracker::SetUp(AmqpConnection& amqp) {
  first_healthy_ = true;
  say_hello_ = false;
  next_heartbeat_ = absl::InfinitePast();
  HIVE_RETURN_IF_ERROR(amqp.DeclareExchange(kPresenceChannel, cluster::kPresenceExchange, "fanout"));
  // Exclusive: the broker deletes it when this connection dies.
  AmqpConnection::QueueOptions own;
  own.exclusive = true;
  own.auto_delete = true;
  HIVE_RETURN_IF_ERROR(amqp.DeclareQueue(kPresenceChannel, queue_, own));
  HIVE_RETURN_IF_ERROR(amqp.Bind(kPresenceChannel, queue_, cluster::kPresenceExchange, ""));
  HIVE_RETURN_IF_ERROR(amqp.Consume(kPresenceChannel, queue_, kPresenceConsumer, /*auto_ack=*/true));
  // Everyone answers with their list; this replica's own goes out on the
  // data connection, after its bindings.
  HIVE_RETURN_IF_ERROR(Say(amqp, cluster::PresenceKind::kHello));
  snapshot_();
  return absl::OkStatus();
}

absl::Status PresenceTracker::Say(AmqpConnection& amqp, cluster::PresenceKind kind) {
  AmqpMessage message = cluster::EncodePresence({kind, options_.replica_id, {}});
  signatures_.Sign(ClusterMessageKind::kPresence, cluster::kPresenceExchange, "", message);
  return amqp.Publish(kPresenceChannel, cluster::kPresenceExchange, "", /*mandatory=*/false, message);
}

absl::Status PresenceTracker::Flush(AmqpConnection& amqp, absl::Time now, bool& /*more*/) {
  if (std::exchange(say_hello_, false)) HIVE_RETURN_IF_ERROR(Say(amqp, cluster::PresenceKind::kHello));
  if (now < next_heartbeat_) return absl::OkStatus();
  next_heartbeat_ = now + options_.heartbeat_period;
  HIVE_RETURN_IF_ERROR(Say(amqp, cluster::PresenceKind::kHeartbeat));
  // Flush runs only while this connection is healthy: the others could be heard.
  for (const std::string& silent : fleet_.DropSilent(options_.replica_timeout, options_.replica_id)) {
    Log(LogLevel::kWarn, "replica_silent", {{"replica", silent}});
    gone_(silent, absl::UnavailableError(absl::StrCat("replica ", silent, " holding the device stopped answering")));
  }
  return absl::OkStatus();
}

absl::Status PresenceTracker::OnDelivery(AmqpDelivery delivery) {
  // Dropped, never acted on (the consumer acks automatically).
  if (signatures_.Authentic(ClusterMessageKind::kPresence, delivery.exchange, delivery.routing_key, delivery.message)) {
    OnPresence(delivery.message);
  }
  return absl::OkStatus();
}

void PresenceTracker::OnPresence(const AmqpMessage& message) {
  absl::StatusOr<cluster::Presence> presence = cluster::DecodePresence(message);
  if (!presence.ok()) {
    Log(LogLevel::kWarn, "bus_presence_undecodable", {{"error", presence.status().message()}});
    return;
  }
  const std::string& replica = presence->replica;
  const bool from_self = replica == options_.replica_id;
  if (presence->kind == cluster::PresenceKind::kGoodbye) {
    fleet_.Drop(replica);
    if (!from_self) {
      gone_(replica, absl::UnavailableError(absl::StrCat("replica ", replica, " holding the device shut down")));
    }
    return;
  }
  const bool newcomer = fleet_.Heard(replica);
  switch (presence->kind) {
    case cluster::PresenceKind::kConnected:
      for (const Device& device : presence->devices) {
        fleet_.Connected(device);
        if (!from_self) Evict(device);
      }
      break;
    case cluster::PresenceKind::kDisconnected:
      for (const Device& device : presence->devices) fleet_.Disconnected(device.device_id(), replica);
      break;
    case cluster::PresenceKind::kSnapshot:
      fleet_.Replace(replica, presence->devices);
      if (!from_self) {
        for (const Device& device : presence->devices) Evict(device);
      }
      break;
    case cluster::PresenceKind::kHello:
      if (!from_self) snapshot_();
      break;
    case cluster::PresenceKind::kHeartbeat:
      if (newcomer && !from_self) say_hello_ = true;
      break;
    case cluster::PresenceKind::kGoodbye:
      break;
  }
}

void PresenceTracker::Evict(const Device& device) {
  if (local_.CloseIfReplaced(device)) {
    Log(LogLevel::kInfo, "device_moved", {{"device", device.device_id()}, {"replica", device.replica()}});
  }
}

void PresenceTracker::OnHealthChanged(bool healthy, BrokerState /*state*/) {
  if (!healthy) return;
  // Nobody could be heard while the broker was blocked or silent; after a
  // reconnect, the others may still be reconnecting (their backoff).
  fleet_.RestartClocks(std::exchange(first_healthy_, false) ? kMaxReconnectBackoff * 3 / 2 : absl::ZeroDuration());
}

absl::Status PresenceTracker::Farewell(AmqpConnection& amqp) { return Say(amqp, cluster::PresenceKind::kGoodbye); }

}  // namespace hive

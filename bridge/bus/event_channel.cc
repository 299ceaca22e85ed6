#include "bridge/bus/event_channel.h"

#include <algorithm>
#include <variant>

#include "absl/strings/str_cat.h"
#include "bridge/bus/cluster_messages.h"
#include "bridge/bus/stream_queue.h"
#include "bridge/log.h"
#include "bridge/status_macros.h"
#include "bridge/uuid.h"

namespace hive {
namespace {

using hive::bridge::v1::DeviceEvent;

// One channel each: publishing (in confirm mode) and the stream (with its
// prefetch); a broker error on one closes only it.
constexpr amqp_channel_t kPublishChannel = 2;
constexpr amqp_channel_t kStreamChannel = 4;
constexpr size_t kRecentIdCapacity = 1 << 16;
// Events published again after a reconnect per turn of the loop, so that
// the broker is read (its heartbeats, connection.blocked) in between.
constexpr size_t kRetryChunk = 1000;

// An event's estimated footprint for the buffer budget: its text and a
// fixed allowance for the structures that carry it.
size_t FootprintOf(const EventChannel::Outgoing& event) {
  size_t bytes = 256 + event.routing_key.size() + event.message.body.size() + event.message.message_id.size() +
                 event.message.content_type.size();
  for (const auto& [key, value] : event.message.headers) {
    bytes += 32 + key.size();
    if (const auto* text = std::get_if<std::string>(&value)) bytes += text->size();
  }
  return bytes;
}

}  // namespace

EventChannel::EventChannel(EventChannelOptions options, ClusterSignatures& signatures, EventHub& hub,
                           std::shared_ptr<Wakeup> wakeup)
    : options_(std::move(options)),
      signatures_(signatures),
      hub_(hub),
      budget_(options_.max_buffered_events, options_.max_buffered_bytes),
      queue_(std::move(wakeup)),
      last_offset_(options_.resume_after_offset),
      recent_ids_(kRecentIdCapacity) {}

void EventChannel::Publish(const DeviceEvent& event) {
  published_.fetch_add(1, std::memory_order_relaxed);
  Outgoing outgoing{cluster::EventRoutingKey(event), cluster::EncodeEvent(event, NewUuid(), options_.replica_id)};
  outgoing.bytes = FootprintOf(outgoing);
  const size_t bytes = outgoing.bytes;
  if (!budget_.TryReserve(bytes)) {
    // One line per 10,000 drops: a broker away for long drops many.
    if (dropped_.fetch_add(1, std::memory_order_relaxed) % 10000 == 0) {
      Log(LogLevel::kWarn, "bus_events_dropped",
          {{"count", 1},
           {"reason", "cluster buffer full"},
           {"held_events", budget_.events()},
           {"held_bytes", budget_.bytes()},
           {"limit",
            absl::StrCat(budget_.max_events(), " events, ", budget_.max_bytes(), " bytes (--cluster-buffer-bytes)")}});
    }
    return;
  }
  if (!queue_.Push(std::move(outgoing))) budget_.Release(bytes);  // stopped
}

std::vector<amqp_channel_t> EventChannel::channels() const { return {kPublishChannel, kStreamChannel}; }

absl::Status EventChannel::SetUp(AmqpConnection& amqp) {
  next_tag_ = 1;
  tag_to_ack_ = 0;
  HIVE_RETURN_IF_ERROR(amqp.SelectConfirms(kPublishChannel));
  HIVE_RETURN_IF_ERROR(amqp.DeclareExchange(kPublishChannel, cluster::kEventsExchange, "topic"));
  HIVE_RETURN_IF_ERROR(DeclareStream(amqp, kStreamChannel, cluster::kEventStream));
  HIVE_RETURN_IF_ERROR(amqp.Bind(kStreamChannel, cluster::kEventStream, cluster::kEventsExchange, "#"));
  const AmqpValue start = last_offset_.has_value() ? StreamStartAfter(last_offset_)
                          : options_.from_first    ? AmqpValue(std::string("first"))
                                                   : AmqpValue(std::string("next"));
  return ConsumeStream(amqp, kStreamChannel, cluster::kEventStream, "events", start);
}

absl::Status EventChannel::Flush(AmqpConnection& amqp, absl::Time /*now*/, bool& more) {
  std::deque<Outgoing> batch;
  if (!retry_.empty()) {
    // Events from before the reconnect go first, a chunk per turn.
    for (size_t i = 0; i < kRetryChunk && !retry_.empty(); ++i) {
      batch.push_back(std::move(retry_.front()));
      retry_.pop_front();
    }
  } else {
    batch = queue_.TakeAll();
  }
  for (auto it = batch.begin(); it != batch.end(); ++it) {
    signatures_.Sign(ClusterMessageKind::kEvent, cluster::kEventsExchange, it->routing_key, it->message);
    absl::Status published =
        amqp.Publish(kPublishChannel, cluster::kEventsExchange, it->routing_key, /*mandatory=*/false, it->message);
    // Kept either way: unconfirmed events are published again after a reconnect.
    unconfirmed_.emplace_back(next_tag_++, std::move(*it));
    if (!published.ok()) {
      // The events not yet sent go out after reconnecting.
      for (++it; it != batch.end(); ++it) retry_.push_back(std::move(*it));
      return published;
    }
  }
  if (!batch.empty() || !retry_.empty()) more = true;
  return absl::OkStatus();
}

void EventChannel::OnConfirm(uint64_t tag, bool multiple, bool acked) {
  std::vector<Outgoing> refused;
  auto settle = [&](auto it) {
    if (acked) {
      budget_.Release(it->second.bytes);
    } else {
      refused.push_back(std::move(it->second));
    }
    return unconfirmed_.erase(it);
  };
  if (multiple) {
    while (!unconfirmed_.empty() && unconfirmed_.front().first <= tag) settle(unconfirmed_.begin());
  } else {
    auto it = std::find_if(unconfirmed_.begin(), unconfirmed_.end(), [tag](const auto& e) { return e.first == tag; });
    if (it != unconfirmed_.end()) settle(it);
  }
  // A nack is the broker failing to store the event: try again.
  for (Outgoing& event : refused) retry_.push_back(std::move(event));
  if (!refused.empty()) Log(LogLevel::kWarn, "bus_events_refused", {{"count", refused.size()}});
}

absl::Status EventChannel::OnDelivery(AmqpDelivery delivery) {
  const AmqpMessage& message = delivery.message;
  tag_to_ack_ = delivery.delivery_tag;
  absl::StatusOr<uint64_t> offset = cluster::StreamOffsetOf(message);
  // A refused message is never acted on, but a reconnect resumes after it
  // rather than reading it again.
  const bool authentic =
      signatures_.Authentic(ClusterMessageKind::kEvent, delivery.exchange, delivery.routing_key, message);
  if (!offset.ok()) return absl::OkStatus();
  if (last_offset_.has_value() && *offset <= *last_offset_) return absl::OkStatus();
  last_offset_ = *offset;
  if (!authentic) return absl::OkStatus();
  if (!message.message_id.empty() && !recent_ids_.Insert(message.message_id)) return absl::OkStatus();
  absl::StatusOr<DeviceEvent> event = cluster::DecodeEvent(message);
  if (!event.ok()) {
    // Another publisher on the exchange sent something that is not an event.
    Log(LogLevel::kWarn, "bus_event_undecodable", {{"offset", *offset}, {"error", event.status().message()}});
    return absl::OkStatus();
  }
  // Offsets start at 0, sequences at 1.
  hub_.PublishAt(*std::move(event), *offset + 1);
  delivered_.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status EventChannel::AfterRead(AmqpConnection& amqp) {
  if (tag_to_ack_ == 0) return absl::OkStatus();
  return amqp.Ack(kStreamChannel, std::exchange(tag_to_ack_, 0), /*multiple=*/true);
}

void EventChannel::OnConnectionEnded(bool /*stopped*/) {
  // Still held (the buffer budget bounds them, counted when they came in).
  for (auto it = unconfirmed_.rbegin(); it != unconfirmed_.rend(); ++it) retry_.push_front(std::move(it->second));
  unconfirmed_.clear();
}

}  // namespace hive

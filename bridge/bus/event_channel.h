// bridge/bus/event_channel.h
// The bus's event channel, on the data connection: this replica's device
// events out to the fleet, and the fleet's events in to this replica's hub.
//  - Out: each event is published, as the seed's JSON, to topic exchange
//    hive.events (routing key <service>.<type>.<account>.<device>) with
//    publisher confirms. Until the broker confirms it, an event counts
//    against the buffer budget (buffer_budget.h; one over it is dropped and
//    counted); events unconfirmed when the connection is lost, or refused
//    (basic.nack), are published again first on the next one.
//  - In: the stream queue hive.events.stream, bound to the exchange, feeds
//    the hub: each event once, numbered by its stream offset alike on every
//    replica (so resume_after works fleet-wide). A reconnect resumes after
//    the last offset read; an event published twice is dropped by its
//    message id.
//
// Publish and the counters: any thread. The rest: the driver's thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bridge/bus/amqp_part.h"
#include "bridge/bus/buffer_budget.h"
#include "bridge/bus/cluster_signatures.h"
#include "bridge/bus/recent_ids.h"
#include "bridge/bus/work_queue.h"
#include "bridge/event_hub.h"
#include "hive/bridge/v1/events.pb.h"

namespace hive {

struct EventChannelOptions {
  std::string replica_id;
  // The buffer budget: events held until the broker has them.
  size_t max_buffered_events = 100000;
  size_t max_buffered_bytes = size_t{64} << 20;
  // Where the stream is first read: after this offset, else from its first
  // event when `from_first`, else from its next one.
  std::optional<uint64_t> resume_after_offset;
  bool from_first = false;
};

class EventChannel final : public AmqpPart {
 public:
  EventChannel(EventChannelOptions options, ClusterSignatures& signatures, EventHub& hub,
               std::shared_ptr<Wakeup> wakeup);

  // Any thread: queues the event for the broker, or drops and counts it
  // when the buffer budget is spent or the bus has stopped.
  void Publish(const hive::bridge::v1::DeviceEvent& event);
  // Refuses events from now on (the bus stopped).
  void Close() { queue_.Close(); }

  uint64_t published() const { return published_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }

  // AmqpPart.
  std::vector<amqp_channel_t> channels() const override;
  absl::Status SetUp(AmqpConnection& amqp) override;
  absl::Status Flush(AmqpConnection& amqp, absl::Time now, bool& more) override;
  absl::Status OnDelivery(AmqpDelivery delivery) override;
  void OnConfirm(uint64_t tag, bool multiple, bool acked) override;
  absl::Status AfterRead(AmqpConnection& amqp) override;
  bool settled() const override { return unconfirmed_.empty(); }
  void OnConnectionEnded(bool stopped) override;

  // An event on its way to the broker.
  struct Outgoing {
    std::string routing_key;
    AmqpMessage message;
    // What it holds of the buffer budget until the broker confirms it.
    size_t bytes = 0;
  };

 private:
  const EventChannelOptions options_;
  ClusterSignatures& signatures_;
  EventHub& hub_;
  BufferBudget budget_;
  WorkQueue<Outgoing> queue_;
  std::atomic<uint64_t> published_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> delivered_{0};

  // The driver's thread, across connections.
  // Events to publish (again) first after connecting, oldest first.
  std::deque<Outgoing> retry_;
  // The last stream offset fed into the hub: a reconnect resumes after it.
  std::optional<uint64_t> last_offset_;
  RecentIds recent_ids_;

  // The driver's thread, for one connection.
  // Published events awaiting the broker's confirm, by delivery tag.
  std::deque<std::pair<uint64_t, Outgoing>> unconfirmed_;
  uint64_t next_tag_ = 1;
  uint64_t tag_to_ack_ = 0;
};

}  // namespace hive

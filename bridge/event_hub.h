// bridge/event_hub.h
// The in-memory fan-out point of device events. WebSocket I/O threads (and, in
// cluster mode, the bus thread) Publish() events; every SubscribeEvents
// reactor holds a Subscription and pulls the events that match its filter.
//
//   EventHub hub(clock, EventHub::Options{}, epoch);  // epoch: random per start
//   hub.Publish(std::move(event));                     // from any thread
//   std::unique_ptr<Subscription> subscription =
//       hub.Subscribe(filter, resume_after, on_ready); // see event_subscription.h
//   absl::StatusOr<std::unique_ptr<Subscription>> limited =
//       hub.TrySubscribe(filter, resume_after, on_ready);  // within max_subscribers
//   hub.Close();                                       // at shutdown
//
// Publish() gives each event the next sequence (1, 2, 3, ...), the hub's
// epoch and, unless the publisher set it, received_at from the clock, then
// freezes it: the history and every matching subscriber share one immutable
// PublishedEvent, whose wire form is made at most once. Publishing never
// waits for a subscriber: a subscriber whose queue is full loses its oldest
// event and later gets a Gap instead.
//
// The hub keeps the last history_capacity events, and no more than
// history_bytes of them (PublishedEvent::bytes, published_event.h; oldest
// dropped first), for resuming. Subscribe() with resume_after {epoch,
// sequence} delivers, before the live events:
//  - same epoch: the matching retained events after `sequence`. When some
//    events after `sequence` were evicted already, first a Gap
//    {GAP_REASON_HISTORY_EXPIRED, missed = how many were evicted}, counting
//    every evicted event, matching the filter or not: the hub no longer knows
//    what they were.
//  - same epoch, `sequence` at or beyond the last published: nothing (caught up).
//  - another epoch (the hub restarted): a Gap {GAP_REASON_EPOCH_CHANGED,
//    missed = 0, as the count is unknown}, then every matching retained event.
// Without resume_after only live events come. The replay is taken and the
// subscriber registered under one lock, so between replay and live there is
// neither a duplicate nor a hole. A gap's sequence is the last one it covers,
// so the {epoch, sequence} of whatever a subscriber saw last, gap or event, is
// always a valid resume point.
//
// Close() ends every subscription (see Subscription) and turns Publish() into
// a no-op for subscribers and the history (the observer still sees it); a
// Subscribe() after it gets a closed subscription.
//
// Thread-safe. One mutex guards the sequence, the history and the subscriber
// list; it is held only to number, record and hand out pointers, and never
// while on_ready runs. The hub must outlive its subscriptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "bridge/clock.h"
#include "bridge/event_filter.h"
#include "bridge/event_observer.h"
#include "bridge/event_subscription.h"
#include "bridge/limit_counters.h"
#include "hive/bridge/v1/device_bridge.pb.h"
#include "hive/bridge/v1/events.pb.h"

namespace hive {

using hive::bridge::v1::DeviceEvent;
using hive::bridge::v1::StreamPosition;

class EventHub {
 public:
  struct Options {
    // How many of the latest events are kept for resuming subscribers.
    size_t history_capacity = 10000;
    // How many bytes (EventBytes) those events may add up to; 0: no byte bound.
    size_t history_bytes = 64 << 20;
    // How many live events one subscriber may leave unread before its oldest
    // is dropped.
    size_t subscriber_queue_capacity = 1024;
    // How many bytes (EventBytes) of them; 0: no byte bound.
    size_t subscriber_queue_bytes = 4 << 20;
    // How many subscriptions TrySubscribe lets be open at once; 0 means no
    // limit.
    size_t max_subscribers = 0;
    // Where TrySubscribe counts its refusals; may be null.
    LimitCounters* counters = nullptr;
    // Cluster mode: sequences are the fleet's (PublishAt), so a resume
    // position beyond this hub's last event is one another replica reached
    // first, and live events up to it are skipped rather than delivered.
    bool fleet_sequences = false;
    // Sees every recorded event in sequence order, under the hub's lock (see
    // event_observer.h); may be null. Events published after Close() still
    // reach it, numbered, though no subscriber gets them: the devices'
    // goodbyes at shutdown still update their twins.
    EventObserver* observer = nullptr;
  };

  EventHub(Clock& clock, Options options, std::string epoch);
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  const std::string& epoch() const { return epoch_; }

  // Stamps, records and fans out `event`; never blocks on a subscriber.
  void Publish(DeviceEvent event);

  // As Publish, with the sequence given by the caller: in cluster mode the
  // position in the fleet's event stream, so that every replica numbers an
  // event alike and a subscriber may resume on any of them. Sequences must
  // grow but may skip (an event the bus dropped as a duplicate); an event at
  // or below the last sequence is ignored.
  void PublishAt(DeviceEvent event, uint64_t sequence);

  // Subscribes to the events `filter` matches, after replaying from
  // `resume_after` when given. `on_ready` must be callable; the wakeup
  // protocol is in event_subscription.h.
  std::unique_ptr<Subscription> Subscribe(EventFilter filter, std::optional<StreamPosition> resume_after,
                                          std::function<void()> on_ready);

  // As Subscribe, unless max_subscribers subscriptions are open already:
  // then RESOURCE_EXHAUSTED, naming the limit, and nothing is subscribed.
  // Backends' streams subscribe through it.
  absl::StatusOr<std::unique_ptr<Subscription>> TrySubscribe(EventFilter filter,
                                                             std::optional<StreamPosition> resume_after,
                                                             std::function<void()> on_ready);

  // How many subscriptions are open, for metrics.
  size_t subscriber_count() const;

  // Closes every subscription, waking those waiting for events.
  void Close();

 private:
  friend class Subscription;

  // Wakeups are rare (only subscribers that were waiting), so a few inline
  // slots keep Publish() free of allocations.
  using WakeList = absl::InlinedVector<std::shared_ptr<Subscription::Queue>, 4>;

  void Unsubscribe(const Subscription::Queue& queue);

  // Subscribe and TrySubscribe: `max_subscribers` 0 is no limit.
  absl::StatusOr<std::unique_ptr<Subscription>> SubscribeWithin(EventFilter filter,
                                                                std::optional<StreamPosition> resume_after,
                                                                std::function<void()> on_ready, size_t max_subscribers);

  // Publish and PublishAt: `sequence` 0 takes the next one.
  void Record(DeviceEvent event, uint64_t sequence);

  // Drops the oldest events until the history is within both its count and
  // its bytes.
  void TrimHistoryLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // What a subscriber resuming after `resume_after` gets before live events.
  std::deque<std::shared_ptr<const PublishedEvent>> ReplayLocked(
      const EventFilter& filter, const std::optional<StreamPosition>& resume_after) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock& clock_;
  const Options options_;
  const std::string epoch_;

  mutable absl::Mutex mu_;
  uint64_t last_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  // Growing sequences, oldest first; consecutive unless PublishAt skipped.
  std::deque<std::shared_ptr<const PublishedEvent>> history_ ABSL_GUARDED_BY(mu_);
  // The sum of the history's PublishedEvent::bytes.
  size_t history_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // A vector because Publish() walks it for every event, while subscribing
  // and unsubscribing are rare.
  std::vector<std::shared_ptr<Subscription::Queue>> subscribers_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace hive

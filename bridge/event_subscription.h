// bridge/event_subscription.h
// One SubscribeEvents caller's end of the EventHub: the events that match its
// filter, in sequence order, pulled one at a time with Next(). EventHub's
// Subscribe() makes it; destroying it unsubscribes.
//
// The wakeup protocol (a turn that passes between consumer and hub):
//  - Right after Subscribe() the consumer has the turn: it calls Next() until
//    Next() returns nullptr (a resume replay may already be waiting).
//  - While the consumer has the turn the hub never calls on_ready, so a
//    reactor busy writing is not disturbed: it pulls the next event when its
//    write completes.
//  - Once Next() has returned nullptr the hub has the turn, and gives it back
//    with exactly one on_ready call as soon as there is something to read (an
//    event, a gap, or the close). No wakeup can be lost: whatever arrives
//    before that nullptr is returned by Next(), whatever arrives after it
//    triggers on_ready.
//
//   subscription = hub.Subscribe(filter, resume_after, [this] { WriteNext(); });
//   WriteNext();                        // and again from OnWriteDone(ok)
//   void WriteNext() {
//     std::shared_ptr<const DeviceEvent> event = subscription->Next();
//     if (event == nullptr) {
//       if (subscription->is_closed()) Finish(...);
//       return;                         // on_ready will call WriteNext()
//     }
//     StartWrite(*event);
//   }
//
// What Next() returns, in order: a resume Gap (see EventHub), the replayed
// history, then live events. The live queue holds at most the hub's
// subscriber_queue_capacity events and subscriber_queue_bytes of them
// (PublishedEvent::bytes, published_event.h); when either is full the oldest
// are dropped, and the next Next() returns one synthesized Gap {missed = how many matching
// events were dropped since the previous gap, reason GAP_REASON_SLOW_SUBSCRIBER}
// in their place, whose sequence is that of the last dropped event (so the
// gap's {epoch, sequence} is a valid resume point). The replay is not bound by
// that capacity: it is finite (at most the hub's history) and made of pointers
// to events the history already holds, so bounding it would only lose events
// without saving memory.
//
// Thread-safety: one consumer at a time calls Next() (whoever has the turn),
// from any thread. on_ready runs on a publishing thread, or the one calling
// EventHub::Close(), with no lock held; it must be cheap and must not block. It
// may call Next() and may destroy the Subscription. Two on_ready calls can
// overlap only in that the earlier one may still be returning after its
// Next() got nullptr.
//
// Lifetime: when the destructor returns, no on_ready call is running (other
// than the destroying thread's own) and none will start, so on_ready may
// capture a reactor that owns the Subscription. The EventHub must outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/inlined_vector.h"
#include "absl/synchronization/mutex.h"
#include "bridge/clock.h"
#include "bridge/event_filter.h"
#include "bridge/limit_counters.h"
#include "bridge/published_event.h"
#include "hive/bridge/v1/events.pb.h"

namespace hive {

using hive::bridge::v1::DeviceEvent;
using hive::bridge::v1::GapReason;

class EventHub;

class Subscription {
 public:
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  ~Subscription();

  // The next event, or nullptr when there is none yet (then on_ready follows
  // when there is) or the subscription is closed. Never blocks. When
  // `more_queued` is given, it is set, under the same lock, to whether the
  // following Next() has an event (or a gap) to return right now. Only the
  // consumer takes from the queue, so that event is returned by its next
  // Next() unless the hub closes first (closed_ is then true, and a stream
  // writer ends its stream): a writer may hold this write back for it.
  std::shared_ptr<const DeviceEvent> Next(bool* more_queued = nullptr);

  // As Next(), with the event as the hub holds it: a stream that writes the
  // event's wire form (PublishedEvent::wire) shares one serialization with
  // every other subscriber.
  std::shared_ptr<const PublishedEvent> NextPublished(bool* more_queued = nullptr);

  // True once the hub has closed: Next() returns nullptr from then on.
  bool is_closed() const;

 private:
  friend class EventHub;
  class Queue;

  Subscription(EventHub& hub, std::shared_ptr<Queue> queue);

  EventHub& hub_;
  const std::shared_ptr<Queue> queue_;
};

// The state the hub (producer) and the Subscription (consumer) share. Shared
// ownership because a publishing thread may still be returning from on_ready
// when the consumer destroys its Subscription.
class Subscription::Queue {
 public:
  // What the live queue may hold before its oldest events are dropped.
  struct Bounds {
    size_t events = 0;
    size_t bytes = 0;  // 0: no byte bound
    // Where drops for the byte bound are counted; may be null.
    LimitCounters* counters = nullptr;
  };

  // `replay` is delivered before any live event and is not bound by
  // `bounds`. Live events at or below `skip_through` are not offered: in
  // cluster mode a subscriber may resume on a replica from a position that
  // replica's hub has not reached yet.
  Queue(Clock& clock, std::string epoch, Bounds bounds, EventFilter filter, std::function<void()> on_ready,
        std::deque<std::shared_ptr<const PublishedEvent>> replay, uint64_t skip_through = 0);

  // A synthesized Gap event: type "gap" from service "hive-backend", stamped
  // with `epoch`, `sequence` (the last one it covers) and the clock's now.
  static std::shared_ptr<const PublishedEvent> MakeGap(const Clock& clock, const std::string& epoch, uint64_t sequence,
                                                       uint64_t missed, GapReason reason);

  // Queues `event` if the filter matches it, dropping the oldest live events
  // while over either bound (counting PublishedEvent::bytes). Returns true
  // when this claimed a wakeup: the caller must then call Wake() once it
  // holds no lock.
  bool Offer(const std::shared_ptr<const PublishedEvent>& event);

  // Discards everything queued; Next() returns nullptr from now on. Returns
  // true when this claimed a wakeup, as Offer() does.
  bool Close();

  // Runs on_ready for a wakeup this thread claimed.
  void Wake();

  // Waits until no other thread is running on_ready. The hub must no longer
  // list this queue, so that no new wakeup can be claimed.
  void AwaitNoForeignWakes();

  std::shared_ptr<const PublishedEvent> Next(bool* more_queued);
  bool is_closed() const;

 private:
  bool ClaimWakeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock& clock_;
  const std::string epoch_;
  const Bounds bounds_;
  const EventFilter filter_;
  const std::function<void()> on_ready_;

  mutable absl::Mutex mu_;
  std::deque<std::shared_ptr<const PublishedEvent>> replay_ ABSL_GUARDED_BY(mu_);
  const uint64_t skip_through_;
  std::deque<std::shared_ptr<const PublishedEvent>> live_ ABSL_GUARDED_BY(mu_);
  // The sum of live_'s PublishedEvent::bytes.
  size_t live_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Matching events dropped from `live_` since the last gap, and the
  // sequence of the latest of them.
  uint64_t missed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t last_missed_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  // The hub has the turn: Next() returned nullptr and no wakeup is claimed.
  bool waiting_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // One entry per claimed wakeup whose on_ready has not returned yet: the
  // claiming thread, so that a destructor running inside on_ready does not
  // wait for itself.
  absl::InlinedVector<std::thread::id, 1> waking_threads_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hive

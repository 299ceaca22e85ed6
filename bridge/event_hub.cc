#include "bridge/event_hub.h"

#include <algorithm>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "bridge/published_event.h"
#include "google/protobuf/util/time_util.h"

namespace hive {

using google::protobuf::util::TimeUtil;
using hive::bridge::v1::GAP_REASON_EPOCH_CHANGED;
using hive::bridge::v1::GAP_REASON_HISTORY_EXPIRED;

EventHub::EventHub(Clock& clock, Options options, std::string epoch)
    : clock_(clock), options_(options), epoch_(std::move(epoch)) {}

void EventHub::Publish(DeviceEvent event) { Record(std::move(event), 0); }

void EventHub::PublishAt(DeviceEvent event, uint64_t sequence) { Record(std::move(event), sequence); }

void EventHub::Record(DeviceEvent event, uint64_t sequence) {
  // Stamp and allocate before taking the lock, which only has to cover what
  // orders events: the sequence, the history and the hand-out.
  auto stamped = std::make_shared<DeviceEvent>(std::move(event));
  stamped->set_epoch(epoch_);
  if (!stamped->has_received_at()) {
    *stamped->mutable_received_at() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock_.Now()));
  }
  // Measured once, outside the lock (the sequence is stamped under it, which
  // EventBytes leaves room for); every queue holding it reuses the size.
  auto published = std::make_shared<const PublishedEvent>(stamped);
  WakeList to_wake;
  {
    absl::MutexLock lock(&mu_);
    if (closed_ && options_.observer == nullptr) return;
    if (sequence == 0) {
      sequence = last_sequence_ + 1;
    } else if (sequence <= last_sequence_) {
      return;
    }
    last_sequence_ = sequence;
    // Nobody else holds it yet: the one write after it was shared.
    stamped->set_sequence(sequence);
    // Under the lock, so the observer sees events in sequence order; before
    // the hand-out, so a subscriber that saw an event finds it applied. The
    // observer keeps the message only, never the wire form.
    if (options_.observer != nullptr) options_.observer->OnEvent(published->event(), published->message_bytes());
    if (closed_) return;
    history_.push_back(published);
    history_bytes_ += published->bytes();
    TrimHistoryLocked();
    for (const std::shared_ptr<Subscription::Queue>& subscriber : subscribers_) {
      if (subscriber->Offer(published)) to_wake.push_back(subscriber);
    }
  }
  for (const std::shared_ptr<Subscription::Queue>& subscriber : to_wake) subscriber->Wake();
}

void EventHub::TrimHistoryLocked() {
  const bool byte_bound = options_.history_bytes > 0;
  while (!history_.empty() &&
         (history_.size() > options_.history_capacity || (byte_bound && history_bytes_ > options_.history_bytes))) {
    // Within the count, so the byte budget is what dropped it.
    if (history_.size() <= options_.history_capacity) CountIn(options_.counters, Limit::kEventHistoryBytes);
    history_bytes_ -= history_.front()->bytes();
    history_.pop_front();
  }
}

std::unique_ptr<Subscription> EventHub::Subscribe(EventFilter filter, std::optional<StreamPosition> resume_after,
                                                  std::function<void()> on_ready) {
  return *SubscribeWithin(std::move(filter), std::move(resume_after), std::move(on_ready), 0);
}

absl::StatusOr<std::unique_ptr<Subscription>> EventHub::TrySubscribe(EventFilter filter,
                                                                     std::optional<StreamPosition> resume_after,
                                                                     std::function<void()> on_ready) {
  return SubscribeWithin(std::move(filter), std::move(resume_after), std::move(on_ready), options_.max_subscribers);
}

absl::StatusOr<std::unique_ptr<Subscription>> EventHub::SubscribeWithin(EventFilter filter,
                                                                        std::optional<StreamPosition> resume_after,
                                                                        std::function<void()> on_ready,
                                                                        size_t max_subscribers) {
  absl::MutexLock lock(&mu_);
  if (max_subscribers > 0 && !closed_ && subscribers_.size() >= max_subscribers) {
    CountIn(options_.counters, Limit::kMaxSubscribers);
    return absl::ResourceExhaustedError(absl::StrCat("the bridge already serves ", subscribers_.size(),
                                                     " event subscribers (--max-subscribers); retry later"));
  }
  std::deque<std::shared_ptr<const PublishedEvent>> replay = ReplayLocked(filter, resume_after);
  const bool skips_to_position =
      options_.fleet_sequences && resume_after.has_value() && resume_after->epoch() == epoch_;
  auto queue = std::make_shared<Subscription::Queue>(
      clock_, epoch_,
      Subscription::Queue::Bounds{options_.subscriber_queue_capacity, options_.subscriber_queue_bytes,
                                  options_.counters},
      std::move(filter), std::move(on_ready), std::move(replay), skips_to_position ? resume_after->sequence() : 0);
  if (closed_) {
    // The consumer has the turn until its first Next(), so closing claims no
    // wakeup.
    queue->Close();
  } else {
    subscribers_.push_back(queue);
  }
  return std::unique_ptr<Subscription>(new Subscription(*this, std::move(queue)));
}

std::deque<std::shared_ptr<const PublishedEvent>> EventHub::ReplayLocked(
    const EventFilter& filter, const std::optional<StreamPosition>& resume_after) const {
  std::deque<std::shared_ptr<const PublishedEvent>> replay;
  if (!resume_after.has_value()) return replay;

  const uint64_t last_evicted = history_.empty() ? last_sequence_ : history_.front()->event()->sequence() - 1;
  uint64_t resume_sequence = 0;
  if (resume_after->epoch() != epoch_) {
    replay.push_back(Subscription::Queue::MakeGap(clock_, epoch_, last_evicted, 0, GAP_REASON_EPOCH_CHANGED));
  } else {
    resume_sequence = resume_after->sequence();
    if (resume_sequence < last_evicted) {
      replay.push_back(Subscription::Queue::MakeGap(clock_, epoch_, last_evicted, last_evicted - resume_sequence,
                                                    GAP_REASON_HISTORY_EXPIRED));
    }
  }
  // Sequences in the history grow, so the first one to replay is found by a
  // binary search rather than by a scan.
  auto first = std::upper_bound(history_.begin(), history_.end(), resume_sequence,
                                [](uint64_t sequence, const std::shared_ptr<const PublishedEvent>& entry) {
                                  return sequence < entry->event()->sequence();
                                });
  for (auto it = first; it != history_.end(); ++it) {
    if (filter.Matches(*(*it)->event())) replay.push_back(*it);
  }
  return replay;
}

void EventHub::Unsubscribe(const Subscription::Queue& queue) {
  absl::MutexLock lock(&mu_);
  auto it = absl::c_find_if(subscribers_,
                            [&queue](const std::shared_ptr<Subscription::Queue>& q) { return q.get() == &queue; });
  if (it == subscribers_.end()) return;  // Close() let go of it already.
  // Order does not matter to Publish(), so swap-and-pop is enough.
  std::swap(*it, subscribers_.back());
  subscribers_.pop_back();
}

size_t EventHub::subscriber_count() const {
  absl::MutexLock lock(&mu_);
  return subscribers_.size();
}

void EventHub::Close() {
  WakeList to_wake;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    for (std::shared_ptr<Subscription::Queue>& subscriber : subscribers_) {
      if (subscriber->Close()) to_wake.push_back(std::move(subscriber));
    }
    subscribers_.clear();
  }
  for (const std::shared_ptr<Subscription::Queue>& subscriber : to_wake) subscriber->Wake();
}

}  // namespace hive

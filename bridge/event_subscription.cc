#include "bridge/event_subscription.h"

#include <utility>

#include "absl/algorithm/container.h"
#include "absl/time/time.h"
#include "bridge/event_hub.h"
#include "google/protobuf/util/time_util.h"

namespace hive {

using google::protobuf::util::TimeUtil;
using hive::bridge::v1::GAP_REASON_SLOW_SUBSCRIBER;

Subscription::Subscription(EventHub& hub, std::shared_ptr<Queue> queue) : hub_(hub), queue_(std::move(queue)) {}

Subscription::~Subscription() {
  hub_.Unsubscribe(*queue_);
  queue_->AwaitNoForeignWakes();
}

std::shared_ptr<const DeviceEvent> Subscription::Next(bool* more_queued) {
  std::shared_ptr<const PublishedEvent> published = queue_->Next(more_queued);
  return published == nullptr ? nullptr : published->event();
}

std::shared_ptr<const PublishedEvent> Subscription::NextPublished(bool* more_queued) {
  return queue_->Next(more_queued);
}

bool Subscription::is_closed() const { return queue_->is_closed(); }

Subscription::Queue::Queue(Clock& clock, std::string epoch, Bounds bounds, EventFilter filter,
                           std::function<void()> on_ready, std::deque<std::shared_ptr<const PublishedEvent>> replay,
                           uint64_t skip_through)
    : clock_(clock),
      epoch_(std::move(epoch)),
      bounds_(bounds),
      filter_(std::move(filter)),
      on_ready_(std::move(on_ready)),
      replay_(std::move(replay)),
      skip_through_(skip_through) {}

std::shared_ptr<const PublishedEvent> Subscription::Queue::MakeGap(const Clock& clock, const std::string& epoch,
                                                                   uint64_t sequence, uint64_t missed,
                                                                   GapReason reason) {
  auto gap = std::make_shared<DeviceEvent>();
  gap->set_sequence(sequence);
  gap->set_epoch(epoch);
  *gap->mutable_received_at() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock.Now()));
  gap->set_service("hive-backend");
  gap->set_type("gap");
  gap->mutable_gap()->set_missed(missed);
  gap->mutable_gap()->set_reason(reason);
  return std::make_shared<const PublishedEvent>(std::move(gap));
}

bool Subscription::Queue::Offer(const std::shared_ptr<const PublishedEvent>& event) {
  if (event->event()->sequence() <= skip_through_ || !filter_.Matches(*event->event())) return false;
  absl::MutexLock lock(&mu_);
  if (closed_) return false;
  live_.push_back(event);
  live_bytes_ += event->bytes();
  // Push first, then trim: with a capacity of 0 (or an event larger than the
  // byte bound) the new event itself becomes the missed one, and the
  // subscriber still learns of it through a gap.
  const bool byte_bound = bounds_.bytes > 0;
  while (!live_.empty() && (live_.size() > bounds_.events || (byte_bound && live_bytes_ > bounds_.bytes))) {
    // Within the count, so the byte bound is what dropped it.
    if (live_.size() <= bounds_.events) CountIn(bounds_.counters, Limit::kSubscriberQueueBytes);
    ++missed_;
    last_missed_sequence_ = live_.front()->event()->sequence();
    live_bytes_ -= live_.front()->bytes();
    live_.pop_front();
  }
  return ClaimWakeLocked();
}

bool Subscription::Queue::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  replay_.clear();
  live_.clear();
  live_bytes_ = 0;
  return ClaimWakeLocked();
}

bool Subscription::Queue::ClaimWakeLocked() {
  if (!waiting_) return false;
  waiting_ = false;
  waking_threads_.push_back(std::this_thread::get_id());
  return true;
}

void Subscription::Queue::Wake() {
  on_ready_();
  absl::MutexLock lock(&mu_);
  waking_threads_.erase(absl::c_find(waking_threads_, std::this_thread::get_id()));
}

void Subscription::Queue::AwaitNoForeignWakes() {
  const std::thread::id self = std::this_thread::get_id();
  auto only_own_wakes = [this, self]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return absl::c_all_of(waking_threads_, [self](std::thread::id waker) { return waker == self; });
  };
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&only_own_wakes));
}

std::shared_ptr<const PublishedEvent> Subscription::Queue::Next(bool* more_queued) {
  absl::MutexLock lock(&mu_);
  if (more_queued != nullptr) *more_queued = false;
  if (closed_) return nullptr;
  std::shared_ptr<const PublishedEvent> event;
  if (!replay_.empty()) {
    event = std::move(replay_.front());
    replay_.pop_front();
  } else if (missed_ > 0) {
    // Drops only ever take the front of `live_`, so the gap belongs before
    // everything still queued.
    event = MakeGap(clock_, epoch_, last_missed_sequence_, missed_, GAP_REASON_SLOW_SUBSCRIBER);
    missed_ = 0;
  } else if (!live_.empty()) {
    live_bytes_ -= live_.front()->bytes();
    event = std::move(live_.front());
    live_.pop_front();
  } else {
    waiting_ = true;
  }
  if (more_queued != nullptr) *more_queued = !replay_.empty() || missed_ > 0 || !live_.empty();
  return event;
}

bool Subscription::Queue::is_closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

}  // namespace hive

#include "bridge/event_hub.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "bridge/event_bytes.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/unit/support/fake_clock.h"

namespace hive {
namespace {

using google::protobuf::util::TimeUtil;
using hive::bridge::v1::GAP_REASON_EPOCH_CHANGED;
using hive::bridge::v1::GAP_REASON_HISTORY_EXPIRED;
using hive::bridge::v1::GAP_REASON_SLOW_SUBSCRIBER;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

using EventPtr = std::shared_ptr<const DeviceEvent>;

constexpr char kEpoch[] = "epoch-a";

EventHub::Options Capacities(size_t history, size_t subscriber_queue) {
  EventHub::Options options;
  options.history_capacity = history;
  options.subscriber_queue_capacity = subscriber_queue;
  return options;
}

DeviceEvent Event(std::string device = "dev-1", std::string type = "device-state") {
  DeviceEvent event;
  event.set_account_id("acc-1");
  event.set_device_id(std::move(device));
  event.set_service("hive-device");
  event.set_type(std::move(type));
  return event;
}

EventFilter DeviceFilter(const std::string& device) {
  SubscribeEventsRequest request;
  request.add_device_ids(device);
  return EventFilter::FromRequest(request);
}

StreamPosition Position(std::string epoch, uint64_t sequence) {
  StreamPosition position;
  position.set_epoch(std::move(epoch));
  position.set_sequence(sequence);
  return position;
}

// An event that weighs about `payload_bytes` serialized.
DeviceEvent HeavyEvent(size_t payload_bytes) {
  DeviceEvent event = Event();
  (*event.mutable_extra()->mutable_fields())["blob"].set_string_value(std::string(payload_bytes, 'x'));
  return event;
}

// What one HeavyEvent(payload_bytes) costs a hub's byte budgets once stamped
// (sequences below 128 serialize alike).
size_t StampedBytes(size_t payload_bytes) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, kEpoch);
  auto subscription = hub.Subscribe({}, std::nullopt, [] {});
  hub.Publish(HeavyEvent(payload_bytes));
  return subscription->NextPublished()->bytes();
}

void PublishMany(EventHub& hub, int count) {
  for (int i = 0; i < count; ++i) hub.Publish(Event());
}

// Next() until nullptr, which also hands the turn to the hub.
std::vector<EventPtr> Drain(Subscription& subscription) {
  std::vector<EventPtr> events;
  while (EventPtr event = subscription.Next()) events.push_back(std::move(event));
  return events;
}

std::vector<uint64_t> Sequences(const std::vector<EventPtr>& events) {
  std::vector<uint64_t> sequences;
  for (const EventPtr& event : events) sequences.push_back(event->sequence());
  return sequences;
}

void ExpectGap(const DeviceEvent& event, uint64_t sequence, uint64_t missed, hive::bridge::v1::GapReason reason) {
  EXPECT_EQ(event.type(), "gap");
  EXPECT_EQ(event.service(), "hive-backend");
  EXPECT_EQ(event.epoch(), kEpoch);
  ASSERT_TRUE(event.has_gap());
  EXPECT_EQ(event.sequence(), sequence);
  EXPECT_EQ(event.gap().missed(), missed);
  EXPECT_EQ(event.gap().reason(), reason);
}

int64_t ReceivedAtNanos(const DeviceEvent& event) { return TimeUtil::TimestampToNanoseconds(event.received_at()); }

TEST(EventHub, ExposesTheEpochItWasGiven) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, kEpoch);
  EXPECT_EQ(hub.epoch(), kEpoch);
}

TEST(EventHub, StampsSequenceFromOneStrictlyIncreasingAndTheEpoch) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, kEpoch);
  auto subscription = hub.Subscribe({}, std::nullopt, [] {});
  DeviceEvent stale = Event();
  stale.set_sequence(99);
  stale.set_epoch("forged");
  hub.Publish(stale);
  PublishMany(hub, 2);
  std::vector<EventPtr> events = Drain(*subscription);
  EXPECT_THAT(Sequences(events), ElementsAre(1, 2, 3));
  for (const EventPtr& event : events) EXPECT_EQ(event->epoch(), kEpoch);
}

TEST(EventHub, StampsReceivedAtFromTheClockUnlessAlreadySet) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, kEpoch);
  auto subscription = hub.Subscribe({}, std::nullopt, [] {});
  const int64_t first_now = absl::ToUnixNanos(clock.Now());
  hub.Publish(Event());
  clock.Advance(absl::Seconds(3));
  DeviceEvent stamped_by_publisher = Event();
  *stamped_by_publisher.mutable_received_at() = TimeUtil::SecondsToTimestamp(42);
  hub.Publish(stamped_by_publisher);
  std::vector<EventPtr> events = Drain(*subscription);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(ReceivedAtNanos(*events[0]), first_now);
  EXPECT_EQ(ReceivedAtNanos(*events[1]), 42'000'000'000);
}

TEST(EventHub, DeliversOnlyEventsTheFilterMatches) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, kEpoch);
  auto subscription = hub.Subscribe(DeviceFilter("dev-2"), std::nullopt, [] {});
  hub.Publish(Event("dev-1"));
  hub.Publish(Event("dev-2"));
  hub.Publish(Event("dev-3"));
  std::vector<EventPtr> events = Drain(*subscription);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->device_id(), "dev-2");
  EXPECT_EQ(events[0]->sequence(), 2u);
}

TEST(EventHub, SubscribersAndHistoryShareOneImmutableEventNotCopies) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, kEpoch);
  auto first = hub.Subscribe({}, std::nullopt, [] {});
  auto second = hub.Subscribe({}, std::nullopt, [] {});
  hub.Publish(Event());
  auto replayed = hub.Subscribe({}, Position(kEpoch, 0), [] {});
  EventPtr seen_by_first = first->Next();
  ASSERT_NE(seen_by_first, nullptr);
  EXPECT_EQ(second->Next().get(), seen_by_first.get());
  EXPECT_EQ(replayed->Next().get(), seen_by_first.get());
}

TEST(EventHub, HistoryEvictsOldestBeyondCapacity) {
  testing::FakeClock clock;
  EventHub hub(clock, Capacities(/*history=*/3, /*subscriber_queue=*/16), kEpoch);
  PublishMany(hub, 5);
  auto subscription = hub.Subscribe({}, Position(kEpoch, 0), [] {});
  std::vector<EventPtr> events = Drain(*subscription);
  ASSERT_EQ(events.size(), 4u);
  ExpectGap(*events[0], /*sequence=*/2, /*missed=*/2, GAP_REASON_HISTORY_EXPIRED);
  EXPECT_THAT(Sequences({events.begin() + 1, events.end()}), ElementsAre(3, 4, 5));
}

TEST(EventHub, HistoryEvictsOldestBeyondItsBytesWithinItsCount) {
  testing::FakeClock clock;
  LimitCounters counters;
  const size_t each = StampedBytes(10000);
  EventHub::Options options = Capacities(/*history=*/100, /*subscriber_queue=*/16);
  options.history_bytes = 3 * each + each / 2;  // room for three
  options.counters = &counters;
  EventHub hub(clock, options, kEpoch);
  for (int i = 0; i < 5; ++i) hub.Publish(HeavyEvent(10000));

  auto subscription = hub.Subscribe({}, Position(kEpoch, 0), [] {});
  std::vector<EventPtr> events = Drain(*subscription);
  ASSERT_EQ(events.size(), 4u);
  ExpectGap(*events[0], /*sequence=*/2, /*missed=*/2, GAP_REASON_HISTORY_EXPIRED);
  EXPECT_THAT(Sequences({events.begin() + 1, events.end()}), ElementsAre(3, 4, 5));
  EXPECT_EQ(counters.value(Limit::kEventHistoryBytes), 2u);
}

TEST(EventHub, HistoryByteBoundEvictsManySmallForOneLarge) {
  testing::FakeClock clock;
  const size_t small = StampedBytes(100);
  EventHub::Options options = Capacities(/*history=*/100, /*subscriber_queue=*/16);
  options.history_bytes = StampedBytes(10000) + 2 * small;
  EventHub hub(clock, options, kEpoch);
  for (int i = 0; i < 5; ++i) hub.Publish(HeavyEvent(100));
  hub.Publish(HeavyEvent(10000));  // leaves room for two of the small ones

  auto subscription = hub.Subscribe({}, Position(kEpoch, 0), [] {});
  std::vector<EventPtr> events = Drain(*subscription);
  ASSERT_EQ(events.size(), 4u);
  ExpectGap(*events[0], /*sequence=*/3, /*missed=*/3, GAP_REASON_HISTORY_EXPIRED);
  EXPECT_THAT(Sequences({events.begin() + 1, events.end()}), ElementsAre(4, 5, 6));
}

TEST(EventHub, HistoryWithoutAByteBoundKeepsItsCount) {
  testing::FakeClock clock;
  EventHub::Options options = Capacities(/*history=*/4, /*subscriber_queue=*/16);
  options.history_bytes = 0;
  EventHub hub(clock, options, kEpoch);
  for (int i = 0; i < 4; ++i) hub.Publish(HeavyEvent(100000));
  auto subscription = hub.Subscribe({}, Position(kEpoch, 0), [] {});
  EXPECT_THAT(Sequences(Drain(*subscription)), ElementsAre(1, 2, 3, 4));
}

TEST(EventHub, SubscriberOverItsQueueBytesGetsAGapAndTheDropsAreCounted) {
  testing::FakeClock clock;
  LimitCounters counters;
  const size_t each = StampedBytes(10000);
  EventHub::Options options = Capacities(/*history=*/100, /*subscriber_queue=*/100);
  options.subscriber_queue_bytes = 2 * each + each / 2;  // room for two
  options.counters = &counters;
  EventHub hub(clock, options, kEpoch);
  auto slow = hub.Subscribe({}, std::nullopt, [] {});
  auto fast = hub.Subscribe({}, std::nullopt, [] {});
  for (int i = 0; i < 5; ++i) {
    hub.Publish(HeavyEvent(10000));
    ASSERT_NE(fast->Next(), nullptr);
  }

  std::vector<EventPtr> events = Drain(*slow);
  ASSERT_EQ(events.size(), 3u);
  ExpectGap(*events[0], /*sequence=*/3, /*missed=*/3, GAP_REASON_SLOW_SUBSCRIBER);
  EXPECT_THAT(Sequences({events.begin() + 1, events.end()}), ElementsAre(4, 5));
  EXPECT_EQ(counters.value(Limit::kSubscriberQueueBytes), 3u);
}

TEST(EventHub, ReadingFreesQueueBytes) {
  testing::FakeClock clock;
  const size_t each = StampedBytes(10000);
  EventHub::Options options = Capacities(/*history=*/100, /*subscriber_queue=*/100);
  options.subscriber_queue_bytes = 2 * each + each / 2;
  EventHub hub(clock, options, kEpoch);
  auto subscription = hub.Subscribe({}, std::nullopt, [] {});
  std::vector<EventPtr> events;
  for (int i = 0; i < 10; ++i) {
    hub.Publish(HeavyEvent(10000));
    hub.Publish(HeavyEvent(10000));
    std::vector<EventPtr> drained = Drain(*subscription);
    events.insert(events.end(), drained.begin(), drained.end());
  }
  EXPECT_EQ(events.size(), 20u);
  for (const EventPtr& event : events) EXPECT_FALSE(event->has_gap());
}

TEST(EventHub, AnEventLargerThanTheQueueBytesBecomesAGapItself) {
  testing::FakeClock clock;
  EventHub::Options options = Capacities(/*history=*/100, /*subscriber_queue=*/100);
  options.subscriber_queue_bytes = StampedBytes(100) * 2;
  EventHub hub(clock, options, kEpoch);
  auto subscription = hub.Subscribe({}, std::nullopt, [] {});
  hub.Publish(HeavyEvent(10000));
  hub.Publish(HeavyEvent(100));
  std::vector<EventPtr> events = Drain(*subscription);
  ASSERT_EQ(events.size(), 2u);
  ExpectGap(*events[0], /*sequence=*/1, /*missed=*/1, GAP_REASON_SLOW_SUBSCRIBER);
  EXPECT_EQ(events[1]->sequence(), 2u);
}

TEST(EventHub, SlowSubscriberGetsGapWhileOthersGetEverything) {
  testing::FakeClock clock;
  EventHub hub(clock, Capacities(/*history=*/100, /*subscriber_queue=*/3), kEpoch);
  auto slow = hub.Subscribe({}, std::nullopt, [] {});
  auto fast = hub.Subscribe({}, std::nullopt, [] {});
  std::vector<EventPtr> fast_events;
  for (int i = 0; i < 10; ++i) {
    hub.Publish(Event());
    fast_events.push_back(fast->Next());
  }
  EXPECT_THAT(Sequences(fast_events), ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
  std::vector<EventPtr> slow_events = Drain(*slow);
  ASSERT_EQ(slow_events.size(), 4u);
  ExpectGap(*slow_events[0], /*sequence=*/7, /*missed=*/7, GAP_REASON_SLOW_SUBSCRIBER);
  EXPECT_EQ(ReceivedAtNanos(*slow_events[0]), absl::ToUnixNanos(clock.Now()));
  EXPECT_THAT(Sequences({slow_events.begin() + 1, slow_events.end()}), ElementsAre(8, 9, 10));
}

TEST(EventHub, SlowSubscriberGapStandsExactlyWhereEventsWereDropped) {
  testing::FakeClock clock;
  EventHub hub(clock, Capacities(/*history=*/100, /*subscriber_queue=*/2), kEpoch);
  auto subscription = hub.Subscribe({}, std::nullopt, [] {});
  PublishMany(hub, 3);  // drops 1
  EXPECT_EQ(subscription->Next()->gap().missed(), 1u);
  EXPECT_EQ(subscription->Next()->sequence(), 2u);
  PublishMany(hub, 3);  // queue held 3; 4, 5, 6 arrive, 3 and 4 are dropped
  std::vector<EventPtr> events = Drain(*subscription);
  ASSERT_EQ(events.size(), 3u);
  ExpectGap(*events[0], /*sequence=*/4, /*missed=*/2, GAP_REASON_SLOW_SUBSCRIBER);
  EXPECT_THAT(Sequences({events.begin() + 1, events.end()}), ElementsAre(5, 6));
}

TEST(EventHub, SlowSubscriberGapCountsOnlyEventsItsFilterMatches) {
  testing::FakeClock clock;
  EventHub hub(clock, Capacities(/*history=*/100, /*subscriber_queue=*/1), kEpoch);
  auto subscription = hub.Subscribe(DeviceFilter("dev-1"), std::nullopt, [] {});
  hub.Publish(Event("dev-1"));
  hub.Publish(Event("dev-2"));
  hub.Publish(Event("dev-1"));
  std::vector<EventPtr> events = Drain(*subscription);
  ASSERT_EQ(events.size(), 2u);
  ExpectGap(*events[0], /*sequence=*/1, /*missed=*/1, GAP_REASON_SLOW_SUBSCRIBER);
  EXPECT_EQ(events[1]->sequence(), 3u);
}

TEST(EventHub, ZeroCapacityQueueReportsEveryEventAsMissed) {
  testing::FakeClock clock;
  EventHub hub(clock, Capacities(/*history=*/100, /*subscriber_queue=*/0), kEpoch);
  int ready_calls = 0;
  auto subscription = hub.Subscribe({}, std::nullopt, [&] { ++ready_calls; });
  EXPECT_EQ(subscription->Next(), nullptr);
  PublishMany(hub, 2);
  EXPECT_EQ(ready_calls, 1);
  std::vector<EventPtr> events = Drain(*subscription);
  ASSERT_EQ(events.size(), 1u);
  ExpectGap(*events[0], /*sequence=*/2, /*missed=*/2, GAP_REASON_SLOW_SUBSCRIBER);
}

TEST(EventHub, OnReadyCalledExactlyOnEmptyToNonEmptyTransitions) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, kEpoch);
  int ready_calls = 0;
  auto subscription = hub.Subscribe(DeviceFilter("dev-1"), std::nullopt, [&] { ++ready_calls; });
  EXPECT_EQ(subscription->Next(), nullptr);
  hub.Publish(Event("dev-1"));
  EXPECT_EQ(ready_calls, 1);
  hub.Publish(Event("dev-1"));
  EXPECT_EQ(ready_calls, 1);
  EXPECT_EQ(Drain(*subscription).size(), 2u);
  hub.Publish(Event("dev-2"));
  EXPECT_EQ(ready_calls, 1);
  hub.Publish(Event("dev-1"));
  EXPECT_EQ(ready_calls, 2);
}

TEST(EventHub, OnReadyNotCalledWhileTheConsumerHasTheTurn) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, kEpoch);
  int ready_calls = 0;
  auto subscription = hub.Subscribe({}, std::nullopt, [&] { ++ready_calls; });
  // Before its first Next() the consumer has the turn.
  hub.Publish(Event());
  EXPECT_EQ(ready_calls, 0);
  // Having taken the only event, it is still busy with it: the next event
  // waits for its next Next() rather than waking it.
  ASSERT_NE(subscription->Next(), nullptr);
  hub.Publish(Event());
  EXPECT_EQ(ready_calls, 0);
  EXPECT_THAT(Sequences(Drain(*subscription)), ElementsAre(2));
  hub.Publish(Event());
  EXPECT_EQ(ready_calls, 1);
}

TEST(EventHub, OnReadyRunsWithoutHubLockSoItCanCallBackIn) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, kEpoch);
  std::unique_ptr<Subscription> subscription;
  std::vector<EventPtr> pulled;
  size_t subscribers_seen = 0;
  subscription = hub.Subscribe({}, std::nullopt, [&] {
    subscribers_seen = hub.subscriber_count();
    for (EventPtr event = subscription->Next(); event != nullptr; event = subscription->Next()) {
      pulled.push_back(std::move(event));
    }
  });
  EXPECT_EQ(subscription->Next(), nullptr);
  hub.Publish(Event());
  hub.Publish(Event());
  EXPECT_EQ(subscribers_seen, 1u);
  EXPECT_THAT(Sequences(pulled), ElementsAre(1, 2));
}

TEST(EventHub, ResumeAfterNReplaysTheRestThenLiveWithoutDuplicates) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, kEpoch);
  PublishMany(hub, 5);
  auto subscription = hub.Subscribe({}, Position(kEpoch, 2), [] {});
  PublishMany(hub, 2);
  EXPECT_THAT(Sequences(Drain(*subscription)), ElementsAre(3, 4, 5, 6, 7));
}

TEST(EventHub, ResumeReplaysOnlyEventsTheFilterMatches) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, kEpoch);
  hub.Publish(Event("dev-1"));
  hub.Publish(Event("dev-2"));
  hub.Publish(Event("dev-1"));
  auto subscription = hub.Subscribe(DeviceFilter("dev-1"), Position(kEpoch, 0), [] {});
  EXPECT_THAT(Sequences(Drain(*subscription)), ElementsAre(1, 3));
}

TEST(EventHub, ResumeOlderThanHistoryStartsWithHistoryExpiredGapCountingAllEvictedEvents) {
  testing::FakeClock clock;
  EventHub hub(clock, Capacities(/*history=*/4, /*subscriber_queue=*/16), kEpoch);
  for (int i = 0; i < 10; ++i) hub.Publish(Event(i % 2 == 0 ? "dev-1" : "dev-2"));
  // Retained: 7..10. After 2, events 3..6 were evicted, of either device.
  auto subscription = hub.Subscribe(DeviceFilter("dev-1"), Position(kEpoch, 2), [] {});
  std::vector<EventPtr> events = Drain(*subscription);
  ASSERT_EQ(events.size(), 3u);
  ExpectGap(*events[0], /*sequence=*/6, /*missed=*/4, GAP_REASON_HISTORY_EXPIRED);
  EXPECT_THAT(Sequences({events.begin() + 1, events.end()}), ElementsAre(7, 9));
}

TEST(EventHub, ResumeJustBeforeTheOldestRetainedEventHasNoGap) {
  testing::FakeClock clock;
  EventHub hub(clock, Capacities(/*history=*/4, /*subscriber_queue=*/16), kEpoch);
  PublishMany(hub, 10);
  auto subscription = hub.Subscribe({}, Position(kEpoch, 6), [] {});
  EXPECT_THAT(Sequences(Drain(*subscription)), ElementsAre(7, 8, 9, 10));
}

TEST(EventHub, ResumeFromOtherEpochGetsEpochChangedGapThenWholeHistory) {
  testing::FakeClock clock;
  EventHub hub(clock, Capacities(/*history=*/3, /*subscriber_queue=*/16), kEpoch);
  PublishMany(hub, 5);
  auto subscription = hub.Subscribe({}, Position("epoch-before-restart", 4), [] {});
  hub.Publish(Event());
  std::vector<EventPtr> events = Drain(*subscription);
  ASSERT_EQ(events.size(), 5u);
  ExpectGap(*events[0], /*sequence=*/2, /*missed=*/0, GAP_REASON_EPOCH_CHANGED);
  EXPECT_THAT(Sequences({events.begin() + 1, events.end()}), ElementsAre(3, 4, 5, 6));
}

TEST(EventHub, ResumeInTheFutureIsCaughtUp) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, kEpoch);
  PublishMany(hub, 3);
  auto subscription = hub.Subscribe({}, Position(kEpoch, 1000), [] {});
  EXPECT_THAT(Drain(*subscription), IsEmpty());
  hub.Publish(Event());
  EXPECT_THAT(Sequences(Drain(*subscription)), ElementsAre(4));
}

TEST(EventHub, ResumeAtTheLastSequenceIsCaughtUp) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, kEpoch);
  PublishMany(hub, 3);
  auto subscription = hub.Subscribe({}, Position(kEpoch, 3), [] {});
  EXPECT_THAT(Drain(*subscription), IsEmpty());
}

TEST(EventHub, WithoutResumePointOnlyLiveEventsArrive) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, kEpoch);
  PublishMany(hub, 3);
  auto subscription = hub.Subscribe({}, std::nullopt, [] {});
  hub.Publish(Event());
  EXPECT_THAT(Sequences(Drain(*subscription)), ElementsAre(4));
}

TEST(EventHub, GapSequenceIsAValidResumePoint) {
  testing::FakeClock clock;
  EventHub hub(clock, Capacities(/*history=*/100, /*subscriber_queue=*/2), kEpoch);
  auto slow = hub.Subscribe({}, std::nullopt, [] {});
  PublishMany(hub, 5);
  EventPtr gap = slow->Next();
  ASSERT_TRUE(gap->has_gap());
  auto resumed = hub.Subscribe({}, Position(gap->epoch(), gap->sequence()), [] {});
  EXPECT_EQ(Sequences(Drain(*resumed)), Sequences(Drain(*slow)));
}

TEST(EventHub, ReplayLargerThanSubscriberQueueIsDeliveredWhole) {
  testing::FakeClock clock;
  EventHub hub(clock, Capacities(/*history=*/100, /*subscriber_queue=*/2), kEpoch);
  PublishMany(hub, 10);
  auto subscription = hub.Subscribe({}, Position(kEpoch, 0), [] {});
  EXPECT_THAT(Sequences(Drain(*subscription)), ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
}

TEST(EventHub, LiveDropsDuringAReplayComeAsGapAfterTheReplay) {
  testing::FakeClock clock;
  EventHub hub(clock, Capacities(/*history=*/100, /*subscriber_queue=*/2), kEpoch);
  PublishMany(hub, 3);
  auto subscription = hub.Subscribe({}, Position(kEpoch, 0), [] {});
  EXPECT_EQ(subscription->Next()->sequence(), 1u);
  PublishMany(hub, 4);  // live 4..7 into a queue of 2: 4 and 5 are dropped
  std::vector<EventPtr> events = Drain(*subscription);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_THAT(Sequences({events.begin(), events.begin() + 2}), ElementsAre(2, 3));
  ExpectGap(*events[2], /*sequence=*/5, /*missed=*/2, GAP_REASON_SLOW_SUBSCRIBER);
  EXPECT_THAT(Sequences({events.begin() + 3, events.end()}), ElementsAre(6, 7));
}

TEST(EventHub, DestroyingSubscriptionUnsubscribes) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, kEpoch);
  int ready_calls = 0;
  auto kept = hub.Subscribe({}, std::nullopt, [] {});
  auto dropped = hub.Subscribe({}, std::nullopt, [&] { ++ready_calls; });
  EXPECT_EQ(hub.subscriber_count(), 2u);
  EXPECT_EQ(dropped->Next(), nullptr);
  dropped.reset();
  EXPECT_EQ(hub.subscriber_count(), 1u);
  hub.Publish(Event());
  EXPECT_EQ(ready_calls, 0);
  EXPECT_THAT(Sequences(Drain(*kept)), ElementsAre(1));
}

TEST(EventHub, OnReadyMayDestroyItsSubscription) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, kEpoch);
  int ready_calls = 0;
  std::unique_ptr<Subscription> subscription;
  subscription = hub.Subscribe({}, std::nullopt, [&] {
    ++ready_calls;
    subscription.reset();
  });
  EXPECT_EQ(subscription->Next(), nullptr);
  hub.Publish(Event());
  EXPECT_EQ(ready_calls, 1);
  EXPECT_EQ(subscription, nullptr);
  EXPECT_EQ(hub.subscriber_count(), 0u);
  hub.Publish(Event());
  EXPECT_EQ(ready_calls, 1);
}

TEST(EventHub, DestroyingWaitsForOnReadyRunningOnAnotherThread) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, kEpoch);
  absl::Notification entered;
  absl::Notification release;
  std::atomic<bool> on_ready_returned{false};
  auto subscription = hub.Subscribe({}, std::nullopt, [&] {
    entered.Notify();
    release.WaitForNotification();
    on_ready_returned = true;
  });
  EXPECT_EQ(subscription->Next(), nullptr);
  std::thread publisher([&] { hub.Publish(Event()); });
  entered.WaitForNotification();
  // Without the wait the destructor would usually return before `release`;
  // forcing that order would take a sleep, so a broken wait fails most runs
  // rather than every run.
  std::thread destroyer([&] {
    subscription.reset();
    EXPECT_TRUE(on_ready_returned);
  });
  release.Notify();
  destroyer.join();
  publisher.join();
}

TEST(EventHub, CloseEndsEverySubscriptionAndWakesOnlyWaitingOnes) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, kEpoch);
  int waiting_ready_calls = 0;
  int busy_ready_calls = 0;
  auto waiting = hub.Subscribe({}, std::nullopt, [&] { ++waiting_ready_calls; });
  auto busy = hub.Subscribe({}, std::nullopt, [&] { ++busy_ready_calls; });
  EXPECT_EQ(waiting->Next(), nullptr);
  PublishMany(hub, 2);
  EXPECT_THAT(Sequences(Drain(*waiting)), ElementsAre(1, 2));
  ASSERT_NE(busy->Next(), nullptr);  // busy still has the turn, one event queued
  EXPECT_FALSE(waiting->is_closed());

  hub.Close();
  hub.Close();

  EXPECT_EQ(waiting_ready_calls, 2);
  EXPECT_EQ(busy_ready_calls, 0);
  EXPECT_EQ(hub.subscriber_count(), 0u);
  for (Subscription* subscription : {waiting.get(), busy.get()}) {
    EXPECT_TRUE(subscription->is_closed());
    EXPECT_EQ(subscription->Next(), nullptr);
    EXPECT_EQ(subscription->Next(), nullptr);
  }
  hub.Publish(Event());
  EXPECT_EQ(waiting->Next(), nullptr);
  EXPECT_EQ(waiting_ready_calls, 2);
}

// Next's more_queued is what lets SubscribeEvents buffer a write: it must be
// true exactly when the following Next() returns something.
TEST(EventHub, MoreQueuedIsTrueExactlyWhenTheFollowingNextReturnsSomething) {
  testing::FakeClock clock;
  EventHub hub(clock, Capacities(/*history=*/100, /*subscriber_queue=*/2), kEpoch);
  PublishMany(hub, 2);
  auto subscription = hub.Subscribe({}, Position(kEpoch, 0), [] {});
  PublishMany(hub, 5);  // 2 replayed, then 3 live into a queue of 2: a gap
  int returned = 0;
  bool queued = true;  // the replay
  while (true) {
    bool more_queued = true;
    EventPtr event = subscription->Next(&more_queued);
    EXPECT_EQ(queued, event != nullptr) << "after " << returned << " events";
    if (event == nullptr) {
      EXPECT_FALSE(more_queued);
      break;
    }
    queued = more_queued;
    ++returned;
  }
  EXPECT_EQ(returned, 5);  // 1, 2, the gap, 6, 7
  hub.Publish(Event());
  hub.Publish(Event());
  bool more_queued = false;
  EXPECT_NE(subscription->Next(&more_queued), nullptr);
  EXPECT_TRUE(more_queued);
  hub.Close();  // what was queued is discarded: nothing follows
  more_queued = true;
  EXPECT_EQ(subscription->Next(&more_queued), nullptr);
  EXPECT_FALSE(more_queued);
}

TEST(EventHub, SubscribeAfterCloseGetsAClosedSubscription) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, kEpoch);
  PublishMany(hub, 2);
  hub.Close();
  auto subscription = hub.Subscribe({}, Position(kEpoch, 0), [] {});
  EXPECT_TRUE(subscription->is_closed());
  EXPECT_EQ(subscription->Next(), nullptr);
  EXPECT_EQ(hub.subscriber_count(), 0u);
}

TEST(EventHub, ConcurrentPublishersAndAConsumerAccountForEveryEvent) {
  constexpr int kPublishers = 4;
  constexpr int kEventsEach = 5000;
  testing::FakeClock clock;
  EventHub hub(clock, Capacities(/*history=*/1000, /*subscriber_queue=*/64), kEpoch);

  absl::Mutex mu;
  bool ready = false;
  bool publishers_done = false;
  auto subscription = hub.Subscribe({}, std::nullopt, [&] {
    absl::MutexLock lock(&mu);
    ready = true;
  });

  uint64_t received = 0;
  uint64_t missed = 0;
  bool strictly_increasing = true;
  std::thread consumer([&] {
    uint64_t last_sequence = 0;
    auto woken = [&] { return ready || publishers_done; };
    for (;;) {
      bool finished;
      {
        absl::MutexLock lock(&mu);
        finished = publishers_done;
      }
      // Read before draining: once publishers are done, a drain that ends in
      // nullptr has seen every event.
      while (EventPtr event = subscription->Next()) {
        strictly_increasing = strictly_increasing && event->sequence() > last_sequence;
        last_sequence = event->sequence();
        if (event->has_gap()) {
          missed += event->gap().missed();
        } else {
          ++received;
        }
      }
      if (finished) return;
      absl::MutexLock lock(&mu);
      mu.Await(absl::Condition(&woken));
      ready = false;
    }
  });

  std::vector<std::thread> publishers;
  for (int p = 0; p < kPublishers; ++p) {
    publishers.emplace_back([&hub, p] {
      for (int i = 0; i < kEventsEach; ++i) hub.Publish(Event("dev-" + std::to_string(p)));
    });
  }
  for (std::thread& publisher : publishers) publisher.join();
  {
    absl::MutexLock lock(&mu);
    publishers_done = true;
  }
  consumer.join();

  EXPECT_TRUE(strictly_increasing);
  EXPECT_EQ(received + missed, static_cast<uint64_t>(kPublishers * kEventsEach));
}

}  // namespace
}  // namespace hive

namespace hive {
namespace {

TEST(EventHub, PublishAtKeepsTheGivenSequencesAndIgnoresOnesNotAfterTheLast) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, kEpoch);
  auto subscription = hub.Subscribe(EventFilter{}, std::nullopt, [] {});
  hub.PublishAt(Event(), 501);
  hub.PublishAt(Event(), 502);
  hub.PublishAt(Event(), 502);  // replayed by the bus after a reconnect
  hub.PublishAt(Event(), 505);  // 503 and 504 were duplicates the bus dropped
  EXPECT_THAT(Sequences(Drain(*subscription)), ElementsAre(501, 502, 505));
}

TEST(EventHub, ResumesAcrossSkippedSequencesFromTheNextOneAfterThePosition) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, kEpoch);
  for (uint64_t sequence : {10, 11, 14, 15}) hub.PublishAt(Event(), sequence);
  auto from_gap = hub.Subscribe(EventFilter{}, Position(kEpoch, 12), [] {});
  EXPECT_THAT(Sequences(Drain(*from_gap)), ElementsAre(14, 15));
  auto from_event = hub.Subscribe(EventFilter{}, Position(kEpoch, 11), [] {});
  EXPECT_THAT(Sequences(Drain(*from_event)), ElementsAre(14, 15));
}

TEST(EventHub, ResumeBeforeTheFirstStreamEventSeenReportsTheEventsItNeverHad) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, kEpoch);
  hub.PublishAt(Event(), 101);
  hub.PublishAt(Event(), 102);
  auto subscription = hub.Subscribe(EventFilter{}, Position(kEpoch, 90), [] {});
  std::vector<EventPtr> events = Drain(*subscription);
  ASSERT_EQ(events.size(), 3u);
  ExpectGap(*events[0], 100, 10, GAP_REASON_HISTORY_EXPIRED);
  EXPECT_THAT(Sequences({events[1], events[2]}), ElementsAre(101, 102));
}

// --- Limits -------------------------------------------------------------------

TEST(EventHub, TrySubscribeBeyondMaxSubscribersIsResourceExhaustedAndTheOthersStillReceive) {
  testing::FakeClock clock;
  LimitCounters counters;
  EventHub::Options options;
  options.max_subscribers = 2;
  options.counters = &counters;
  EventHub hub(clock, options, kEpoch);
  absl::StatusOr<std::unique_ptr<Subscription>> first = hub.TrySubscribe(EventFilter(), std::nullopt, [] {});
  absl::StatusOr<std::unique_ptr<Subscription>> second = hub.TrySubscribe(EventFilter(), std::nullopt, [] {});
  ASSERT_TRUE(first.ok() && second.ok());

  absl::StatusOr<std::unique_ptr<Subscription>> third = hub.TrySubscribe(EventFilter(), std::nullopt, [] {});

  EXPECT_EQ(third.status(), absl::ResourceExhaustedError(
                                "the bridge already serves 2 event subscribers (--max-subscribers); retry later"));
  EXPECT_EQ(counters.value(Limit::kMaxSubscribers), 1u);
  EXPECT_EQ(hub.subscriber_count(), 2u);
  hub.Publish(Event());
  EXPECT_EQ(Drain(**first).size(), 1u);
  EXPECT_EQ(Drain(**second).size(), 1u);

  first->reset();  // unsubscribes: room for one more
  EXPECT_TRUE(hub.TrySubscribe(EventFilter(), std::nullopt, [] {}).ok());
}

TEST(EventHub, SubscribeIsNotBoundByMaxSubscribers) {
  testing::FakeClock clock;
  EventHub::Options options;
  options.max_subscribers = 1;
  EventHub hub(clock, options, kEpoch);
  std::unique_ptr<Subscription> first = hub.Subscribe(EventFilter(), std::nullopt, [] {});
  std::unique_ptr<Subscription> second = hub.Subscribe(EventFilter(), std::nullopt, [] {});
  EXPECT_EQ(hub.subscriber_count(), 2u);
  EXPECT_FALSE(hub.TrySubscribe(EventFilter(), std::nullopt, [] {}).ok());
}

}  // namespace
}  // namespace hive

namespace hive {
namespace {

TEST(EventHub, ResumeFromAPositionTheHubHasNotReachedSkipsLiveEventsUpToIt) {
  // Cluster mode: the subscriber saw sequence 5 on another replica, whose
  // stream this hub has read only up to 3.
  testing::FakeClock clock;
  EventHub::Options options;
  options.fleet_sequences = true;
  EventHub hub(clock, options, kEpoch);
  for (uint64_t sequence : {1, 2, 3}) hub.PublishAt(Event(), sequence);
  auto subscription = hub.Subscribe(EventFilter{}, Position(kEpoch, 5), [] {});
  for (uint64_t sequence : {4, 5, 6, 7}) hub.PublishAt(Event(), sequence);
  EXPECT_THAT(Sequences(Drain(*subscription)), ElementsAre(6, 7));
}

}  // namespace
}  // namespace hive

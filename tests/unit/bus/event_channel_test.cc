#include "bridge/bus/event_channel.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bridge/bus/cluster_messages.h"
#include "bridge/event_observer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/support/fake_clock.h"

namespace hive {
namespace {

using hive::bridge::v1::DeviceEvent;
using ::testing::ElementsAre;
using ::testing::Pair;

// What the hub recorded, by sequence.
class Recorded final : public EventObserver {
 public:
  void OnEvent(const std::shared_ptr<const DeviceEvent>& event, size_t /*bytes*/) override {
    events.emplace_back(event->sequence(), event->device_state().state());
  }
  std::vector<std::pair<uint64_t, std::string>> events;
};

DeviceEvent StateEvent(const std::string& state) {
  DeviceEvent event;
  event.set_device_id("d1");
  event.set_account_id("acc");
  event.set_service("hive-device");
  event.set_type("device-state");
  event.mutable_device_state()->set_state(state);
  return event;
}

// The event channel's reading of the stream, without a broker.
class EventChannelTest : public ::testing::Test {
 protected:
  EventHub::Options HubOptions() {
    EventHub::Options options;
    options.fleet_sequences = true;
    options.observer = &recorded_;
    return options;
  }

  // The stream delivers `state` at `offset`, published with `message_id`.
  void Stream(uint64_t offset, const std::string& state, const std::string& message_id) {
    AmqpDelivery delivery;
    delivery.channel = 4;
    delivery.consumer = "events";
    delivery.exchange = std::string(cluster::kEventsExchange);
    delivery.delivery_tag = offset + 1;
    delivery.message = cluster::EncodeEvent(StateEvent(state), message_id, "replica-2");
    delivery.message.headers.emplace_back("x-stream-offset", static_cast<int64_t>(offset));
    ASSERT_TRUE(channel_.OnDelivery(std::move(delivery)).ok());
  }

  testing::FakeClock clock_;
  Recorded recorded_;
  EventHub hub_{clock_, HubOptions(), "stream-epoch"};
  ClusterSignatures signatures_{nullptr, clock_};
  EventChannel channel_{{"replica-1", /*max_buffered_events=*/2, /*max_buffered_bytes=*/1 << 20, std::nullopt, false},
                        signatures_,
                        hub_,
                        std::make_shared<Wakeup>()};
};

TEST_F(EventChannelTest, StreamEventsReachTheHubNumberedByTheirOffset) {
  Stream(0, "a", "m-a");
  Stream(41, "b", "m-b");
  EXPECT_THAT(recorded_.events, ElementsAre(Pair(1u, "a"), Pair(42u, "b")));
  EXPECT_EQ(channel_.delivered(), 2u);
}

TEST_F(EventChannelTest, EventPublishedTwiceIsDeliveredOnceAndAnOffsetReadAgainIsSkipped) {
  Stream(5, "a", "m-a");
  Stream(6, "a", "m-a");  // published again after a lost confirm
  Stream(5, "a", "m-a");  // read again
  Stream(7, "b", "m-b");
  EXPECT_THAT(recorded_.events, ElementsAre(Pair(6u, "a"), Pair(8u, "b")));
}

TEST_F(EventChannelTest, EventsOverTheBufferBudgetAreDroppedAndCounted) {
  channel_.Publish(StateEvent("1"));
  channel_.Publish(StateEvent("2"));
  channel_.Publish(StateEvent("3"));
  EXPECT_EQ(channel_.published(), 3u);
  EXPECT_EQ(channel_.dropped(), 1u);
}

TEST_F(EventChannelTest, PublishAfterCloseIsDroppedAndHoldsNothing) {
  channel_.Close();
  channel_.Publish(StateEvent("1"));
  channel_.Publish(StateEvent("2"));
  channel_.Publish(StateEvent("3"));
  // Nothing held: the budget of two never ran out.
  EXPECT_EQ(channel_.dropped(), 0u);
  EXPECT_TRUE(channel_.settled());
}

}  // namespace
}  // namespace hive

#include "bridge/published_event.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "bridge/event_bytes.h"
#include "bridge/event_hub.h"
#include "gtest/gtest.h"
#include "tests/unit/support/fake_clock.h"

namespace hive {
namespace {

using hive::bridge::v1::DeviceEvent;

std::shared_ptr<const DeviceEvent> StateEvent(size_t payload_bytes) {
  auto event = std::make_shared<DeviceEvent>();
  event->set_device_id("dev-1");
  event->set_type("device-state");
  event->set_sequence(7);
  (*event->mutable_extra()->mutable_fields())["blob"].set_string_value(std::string(payload_bytes, 'x'));
  return event;
}

TEST(PublishedEvent, WireIsTheMessageSerializedAndMadeOnce) {
  const PublishedEvent published(StateEvent(300));
  const std::string& first = published.wire();
  DeviceEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(first));
  EXPECT_EQ(parsed.SerializeAsString(), published.event()->SerializeAsString());
  EXPECT_EQ(&published.wire(), &first);
  EXPECT_EQ(published.wire().data(), first.data());
}

TEST(PublishedEvent, BytesCountTheMessageAndItsWireForm) {
  const PublishedEvent published(StateEvent(1000));
  const size_t serialized = published.event()->ByteSizeLong();
  EXPECT_EQ(published.message_bytes(), EventBytes(*published.event()));
  EXPECT_EQ(published.bytes(), serialized + kEventOverheadBytes + serialized);
  EXPECT_EQ(published.bytes() - published.message_bytes(), published.wire().size());
}

// The first callers race to make the wire form: every one of them must get
// the one string, complete.
TEST(PublishedEvent, ManyThreadsAskingAtOnceGetTheOneWireForm) {
  const std::string expected = StateEvent(4096)->SerializeAsString();
  for (int round = 0; round < 200; ++round) {
    const PublishedEvent published(StateEvent(4096));
    absl::Notification go;
    std::vector<const std::string*> seen(8, nullptr);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < seen.size(); ++i) {
      threads.emplace_back([&, i] {
        go.WaitForNotification();
        seen[i] = &published.wire();
      });
    }
    go.Notify();
    for (std::thread& thread : threads) thread.join();
    for (const std::string* wire : seen) {
      ASSERT_EQ(wire, seen.front()) << "round " << round;
      ASSERT_EQ(*wire, expected) << "round " << round;
    }
  }
}

// Subscribers of the hub get the same PublishedEvent, so the wire form the
// first one makes is the one every other writes.
TEST(PublishedEvent, EverySubscriberOfTheHubSharesItsWireForm) {
  testing::FakeClock clock;
  EventHub hub(clock, {}, "epoch-a");
  auto first = hub.Subscribe({}, std::nullopt, [] {});
  auto second = hub.Subscribe({}, std::nullopt, [] {});
  DeviceEvent event = *StateEvent(100);
  hub.Publish(event);
  std::shared_ptr<const PublishedEvent> a = first->NextPublished();
  std::shared_ptr<const PublishedEvent> b = second->NextPublished();
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a->wire().data(), b->wire().data());
  // The stamped event, sequence and epoch included, is what goes out.
  DeviceEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(b->wire()));
  EXPECT_EQ(parsed.sequence(), 1u);
  EXPECT_EQ(parsed.epoch(), "epoch-a");
}

}  // namespace
}  // namespace hive

#include "server/event_response_bytes.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive::server {
namespace {

using hive::bridge::v1::DeviceEvent;
using hive::bridge::v1::SubscribeEventsResponse;

std::shared_ptr<const PublishedEvent> Published(size_t payload_bytes) {
  auto event = std::make_shared<DeviceEvent>();
  event->set_device_id("dev-1");
  event->set_type("device-state");
  event->set_sequence(42);
  event->set_epoch("epoch-a");
  (*event->mutable_extra()->mutable_fields())["blob"].set_string_value(std::string(payload_bytes, 'x'));
  return std::make_shared<const PublishedEvent>(std::move(event));
}

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& slice : slices) bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  return bytes;
}

// The bytes are exactly what the generated code sends for the same message,
// for events whose length takes one, two and three varint bytes.
TEST(EventResponseBytes, AreTheSerializedSubscribeEventsResponse) {
  for (size_t payload : {10, 500, 70000}) {
    std::shared_ptr<const PublishedEvent> published = Published(payload);
    SubscribeEventsResponse expected;
    *expected.mutable_event() = *published->event();
    const std::string bytes = Flatten(SubscribeEventsResponseBytes(published));
    EXPECT_EQ(bytes, expected.SerializeAsString()) << payload << "-byte payload";
    SubscribeEventsResponse parsed;
    ASSERT_TRUE(parsed.ParseFromString(bytes));
    EXPECT_EQ(parsed.event().sequence(), 42u);
  }
}

// Two subscribers' responses lend the one wire form: no copy per subscriber.
TEST(EventResponseBytes, ShareTheEventsWireFormWithoutCopyingIt) {
  std::shared_ptr<const PublishedEvent> published = Published(1000);
  grpc::ByteBuffer first = SubscribeEventsResponseBytes(published);
  grpc::ByteBuffer second = SubscribeEventsResponseBytes(published);
  for (const grpc::ByteBuffer* buffer : {&first, &second}) {
    std::vector<grpc::Slice> slices;
    ASSERT_TRUE(buffer->Dump(&slices).ok());
    ASSERT_EQ(slices.size(), 2u);
    EXPECT_EQ(static_cast<const void*>(slices[1].begin()), static_cast<const void*>(published->wire().data()));
  }
}

// The buffer holds the event: it outlives every other reference (ASan would
// report a read of freed memory otherwise), and lets go of it when cleared.
TEST(EventResponseBytes, KeepTheEventAliveUntilTheBufferLetsGo) {
  std::shared_ptr<const PublishedEvent> published = Published(1000);
  const std::string expected = Flatten(SubscribeEventsResponseBytes(published));
  std::weak_ptr<const PublishedEvent> watch = published;
  grpc::ByteBuffer buffer = SubscribeEventsResponseBytes(std::move(published));
  grpc::ByteBuffer copy = buffer;  // what gRPC takes for a write
  buffer.Clear();
  EXPECT_FALSE(watch.expired());
  EXPECT_EQ(Flatten(copy), expected);
  copy.Clear();
  EXPECT_TRUE(watch.expired());
}

}  // namespace
}  // namespace hive::server

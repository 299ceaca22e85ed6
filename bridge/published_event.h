// bridge/published_event.h
// An event as the EventHub holds and hands it out: the stamped, frozen
// message, what holding it costs the hub's byte budgets, and its protobuf wire
// form, made once by the first reader that asks for it and shared by every
// other. A SubscribeEvents stream writes that wire form instead of
// serializing the message again, so an event that N subscribers receive is
// serialized once, not N times (issue #18: encode-once fan-out).
//
//   auto published = std::make_shared<const PublishedEvent>(std::move(frozen));
//   const DeviceEvent& event = *published->event();     // filters, twins, metrics
//   const std::string& bytes = published->wire();        // any thread; made once
//
// The wire form lives as long as the PublishedEvent: in the hub's history and
// in the subscriber queues that hold it. Observers (the twin store) and
// Subscription::Next() get the message pointer alone, which does not keep the
// wire form alive.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "absl/base/call_once.h"
#include "bridge/event_bytes.h"
#include "hive/bridge/v1/events.pb.h"

namespace hive {

class PublishedEvent {
 public:
  // Measures `event` (protobuf's ByteSizeLong, once). The hub makes it
  // before it stamps the sequence, outside its lock: EventBytes leaves room
  // for that.
  explicit PublishedEvent(std::shared_ptr<const hive::bridge::v1::DeviceEvent> event);

  PublishedEvent(const PublishedEvent&) = delete;
  PublishedEvent& operator=(const PublishedEvent&) = delete;

  const std::shared_ptr<const hive::bridge::v1::DeviceEvent>& event() const { return event_; }

  // What the message alone costs: its EventBytes (event_bytes.h), which an
  // observer keeping the message (the twin store) charges.
  size_t message_bytes() const { return message_bytes_; }

  // What it costs the hub's byte budgets (--event-history-bytes,
  // --subscriber-queue-bytes): message_bytes() plus the serialized size
  // again (message_bytes() less the overhead), for the wire form it may come
  // to hold.
  size_t bytes() const { return 2 * message_bytes_ - kEventOverheadBytes; }

  // The message in protobuf's wire format, made by the first call and
  // returned by every later one. Thread-safe.
  const std::string& wire() const;

 private:
  const std::shared_ptr<const hive::bridge::v1::DeviceEvent> event_;
  const size_t message_bytes_;
  mutable absl::once_flag wire_once_;
  mutable std::string wire_;
};

}  // namespace hive

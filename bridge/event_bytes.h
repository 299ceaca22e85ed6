// bridge/event_bytes.h
// What one event costs the byte budgets of the event hub (--event-history-bytes,
// --subscriber-queue-bytes): its serialized size plus a fixed estimate of what
// holding it costs besides. Computed once per event, when it is published, and
// kept with every queue entry, so that evicting is a subtraction.
//
//   const size_t bytes = EventBytes(event);
//
// The serialized size (protobuf's ByteSizeLong) is not the event's footprint
// in memory: a JSON payload is held as a google.protobuf.Struct, a map of
// Value messages: about its serialized bytes for one large string, about 5
// times them for 1000 small fields (SpaceUsedLong, before allocator
// overhead). SpaceUsedLong walks the whole message, and the budgets would
// still not be RSS; so they bound this counted size, and docs/SECURITY.md
// says so rather than promising an RSS figure.
#pragma once

#include <cstddef>

#include "hive/bridge/v1/events.pb.h"

namespace hive {

// Per event, besides the serialized bytes: the DeviceEvent object and its
// Timestamp, the shared_ptr control block, a queue slot, and room for the
// sequence the hub stamps after the size was taken.
inline constexpr size_t kEventOverheadBytes = 512;

inline size_t EventBytes(const hive::bridge::v1::DeviceEvent& event) {
  return event.ByteSizeLong() + kEventOverheadBytes;
}

}  // namespace hive

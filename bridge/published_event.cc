#include "bridge/published_event.h"

#include <utility>

#include "bridge/event_bytes.h"

namespace hive {

PublishedEvent::PublishedEvent(std::shared_ptr<const hive::bridge::v1::DeviceEvent> event)
    : event_(std::move(event)),
      message_bytes_(EventBytes(*event_)),
      // EventBytes is the serialized size plus the overhead: the serialized
      // size once more is the wire form's.
      bytes_(message_bytes_ + (message_bytes_ - kEventOverheadBytes)) {}

const std::string& PublishedEvent::wire() const {
  absl::call_once(wire_once_, [this] { event_->SerializeToString(&wire_); });
  return wire_;
}

}  // namespace hive

#include "bridge/published_event.h"

#include <utility>

namespace hive {

PublishedEvent::PublishedEvent(std::shared_ptr<const hive::bridge::v1::DeviceEvent> event)
    : event_(std::move(event)), message_bytes_(EventBytes(*event_)) {}

const std::string& PublishedEvent::wire() const {
  absl::call_once(wire_once_, [this] { event_->SerializeToString(&wire_); });
  return wire_;
}

}  // namespace hive

// bridge/event_observer.h
// Something that must see every event the hub records, in sequence order,
// and never miss one the way a slow subscriber can: the device twins
// (bridge/twin/twin_store.h).
//
//   class Twins : public EventObserver {
//     void OnEvent(const std::shared_ptr<const DeviceEvent>& event, size_t bytes) override { ... }
//   };
//   EventHub::Options options;
//   options.observer = &twins;  // must outlive the hub's publishers
//
// The hub calls OnEvent under its own lock, right after it numbered the
// event, so an observer sees events strictly in sequence order and a state
// it built from all events up to sequence S is exactly "every event <= S".
// It is therefore on every publisher's path: OnEvent must be quick, must not
// block, and must not call back into the hub.
#pragma once

#include <cstddef>
#include <memory>

#include "hive/bridge/v1/events.pb.h"

namespace hive {

class EventObserver {
 public:
  virtual ~EventObserver() = default;

  // `event` is frozen (stamped with its sequence, epoch and received_at);
  // the observer may keep the pointer. `bytes` is its EventBytes
  // (event_bytes.h), measured once by the hub.
  virtual void OnEvent(const std::shared_ptr<const hive::bridge::v1::DeviceEvent>& event, size_t bytes) = 0;
};

}  // namespace hive

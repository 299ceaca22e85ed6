// bridge/presence_observer.h
// Told when a device's connection on this replica becomes, or stops being,
// its live link. The cluster bus uses it to route the device's requests here
// and to tell the other replicas; the in-process bus needs neither.
#pragma once

#include "bridge/device_link.h"

namespace hive {

class PresenceObserver {
 public:
  virtual ~PresenceObserver() = default;
  // Called on the registering thread under the registry's lock for the
  // device, so for one device the calls come in the order the registry saw
  // them. They must only queue work, never call back into the registry.
  virtual void OnRegistered(const DeviceLink& link) = 0;
  virtual void OnUnregistered(const DeviceLink& link) = 0;
};

}  // namespace hive

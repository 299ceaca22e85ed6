// bridge/bus/local_devices.h
// What the cluster bus may do to the devices connected to this replica, and
// nothing more: list them (to rebind and announce them after a reconnect),
// hand one a request another replica routed here, and close one that a newer
// connection on another replica replaced. The bus never reaches into the
// session registry, the delivery path or the close codes itself; the server
// implements this over them (server/cluster_local_devices.h), and unit tests
// with a fake.
#pragma once

#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bridge/request_correlator.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive {

class LocalDevices {
 public:
  virtual ~LocalDevices() = default;

  // Every device connected here now, as its connection describes it.
  virtual std::vector<hive::bridge::v1::Device> List() const = 0;

  // Delivers `request` (validated, canonical ids, a request id) to its
  // device's connection here, as a local SendDeviceRequest would be, with the
  // caller's `traceparent`; gives up at `deadline`. False, with `done`
  // dropped unrun, when the device is not connected here; otherwise `done`
  // runs exactly once (possibly before this returns), on any thread.
  virtual bool Deliver(const hive::bridge::v1::SendDeviceRequestRequest& request, absl::string_view traceparent,
                       absl::Time deadline, RequestCorrelator::Done done) = 0;

  // `newer` connected on another replica (newer.replica()): closes this
  // replica's connection of the same device if it is older, as replaced.
  // True when it closed one.
  virtual bool CloseIfReplaced(const hive::bridge::v1::Device& newer) = 0;
};

}  // namespace hive

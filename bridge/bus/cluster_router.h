// bridge/bus/cluster_router.h
// In cluster mode, how a replica reaches a device another replica holds:
// the fleet's directory of devices, and requests routed to their holder.
// SendDeviceRequest uses it for devices not connected here; ListDevices and
// GetDevice answer from the fleet directory.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "bridge/request_correlator.h"
#include "bridge/session_registry.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive {

class ClusterRouter {
 public:
  virtual ~ClusterRouter() = default;

  // Every device of the fleet, this replica's included, as the replicas
  // announced them; each entry's Describe().replica() names its holder. Its
  // links only describe: requests go through Route.
  virtual SessionRegistry& fleet() = 0;

  // Sends `request` (validated, with canonical ids and a request id) to the
  // replica holding its device, which delivers it as DeliverToDevice does.
  // `done` runs once: with the holder's answer; NOT_FOUND when no replica
  // holds the device any more; UNAVAILABLE when the broker or `replica` went
  // away; DEADLINE_EXCEEDED at `deadline`. Returns an id for Cancel.
  // `traceparent` (bridge/trace_context.h) goes with it, so the holder's log
  // lines and the device's frame name the caller's trace.
  virtual std::string Route(const hive::bridge::v1::SendDeviceRequestRequest& request, const std::string& replica,
                            absl::Time deadline, absl::string_view traceparent, RequestCorrelator::Done done) = 0;

  // The caller gave up: completes the call with CANCELLED unless it is done.
  virtual void Cancel(const std::string& call) = 0;
};

}  // namespace hive

// server/cluster_local_devices.h
// The cluster bus's hold on this replica's devices (bridge/bus/local_devices.h)
// over the session registry: a request routed here goes through
// DeliverToDevice like a local call (the correlator dedupes its id for the
// whole fleet and enforces the per-device limits), and a device that a newer
// connection on another replica replaced is closed with 4409.
//
//   ClusterLocalDevices local(registry, correlator, {config.max_message_bytes, config.trace_to_device});
//   AmqpBus bus(options, clock, hub, local);
#pragma once

#include <vector>

#include "bridge/bus/local_devices.h"
#include "bridge/device_delivery.h"
#include "bridge/request_correlator.h"
#include "bridge/session_registry.h"

namespace hive {

class ClusterLocalDevices final : public LocalDevices {
 public:
  ClusterLocalDevices(SessionRegistry& registry, RequestCorrelator& correlator, DeliveryLimits limits)
      : registry_(registry), correlator_(correlator), limits_(limits) {}

  std::vector<hive::bridge::v1::Device> List() const override;
  bool Deliver(const hive::bridge::v1::SendDeviceRequestRequest& request, absl::string_view traceparent,
               absl::Time deadline, RequestCorrelator::Done done) override;
  bool CloseIfReplaced(const hive::bridge::v1::Device& newer) override;

 private:
  SessionRegistry& registry_;
  RequestCorrelator& correlator_;
  const DeliveryLimits limits_;
};

}  // namespace hive

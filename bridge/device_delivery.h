// bridge/device_delivery.h
// Hands one SendDeviceRequest to a device connected to this replica: checks
// the caller's account, encodes the request in the device's dialect, joins or
// registers it with the correlator under its digest (so a retried request id
// is never sent twice, and never names a different request) and queues the
// frame on the device's link, which marks it sent when it writes it. Both the gRPC handler
// and, in cluster mode, the bus (for a request routed here by another
// replica) deliver through it.
//
//   DeliverToDevice(*link, DeliveredRequest::AsIs(request), deadline, {max_frame_bytes}, correlator,
//                   std::move(done));
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bridge/device_link.h"
#include "bridge/request_correlator.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive {

struct DeliveryLimits {
  // Larger encoded requests are refused with INVALID_ARGUMENT: the device
  // would close the connection on them.
  size_t max_frame_bytes = 1 << 20;
  // --trace-to-device: the frame carries the request's `traceparent` (not a
  // limit, but how this replica frames every request it delivers, so it
  // travels with the limits to the gRPC handler, the bus and the queue).
  bool trace_to_device = false;
};

// A validated request and the ids it is delivered under, borrowed: the
// caller's own request may spell the ids otherwise or lack a request id, and
// copying it (command and all) just to fix them would cost every call.
struct DeliveredRequest {
  const hive::bridge::v1::SendDeviceRequestRequest& request;  // command, state, wait
  const std::string& request_id;
  const std::string& device_id;
  const std::string& account_id;  // empty: any account
  // Who hears of its progress besides the caller (outcome_events, the queue).
  RequestCorrelator::Watch watch = RequestCorrelator::Watch::kNone;
  // The call's span as the device's parent ("00-<trace>-<span>-<flags>"), or
  // empty; written into the frame only with DeliveryLimits::trace_to_device.
  absl::string_view traceparent = {};

  // A request that already carries canonical ids and a request id.
  static DeliveredRequest AsIs(const hive::bridge::v1::SendDeviceRequestRequest& request) {
    return {request, request.request_id(), request.device_id(), request.account_id()};
  }
};

// What a request asks of its device, for the correlator's idempotency check:
// a hash of the device id, command and state (serialized deterministically,
// so map order does not matter). The wait mode, deadlines and ids are not
// part of it: a retry may wait differently.
RequestCorrelator::Digest DigestOf(const std::string& device_id,
                                   const hive::bridge::v1::SendDeviceRequestRequest& request);

// `done` runs exactly once, possibly before this returns. Returns the
// correlator's waiter, for RequestCorrelator::Cancel, when one was added.
std::optional<RequestCorrelator::WaiterId> DeliverToDevice(DeviceLink& link, const DeliveredRequest& delivered,
                                                           absl::Time deadline, const DeliveryLimits& limits,
                                                           RequestCorrelator& correlator, RequestCorrelator::Done done);

}  // namespace hive

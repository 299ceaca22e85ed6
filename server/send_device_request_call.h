// server/send_device_request_call.h
// One SendDeviceRequest call: validate, find (or wait for) the device, hand
// the request to the correlator and the device's link, and finish exactly
// once with the outcome, whichever of ack, result, deadline, disconnect,
// cancellation or shutdown comes first. No thread waits: every step is a
// callback.
#pragma once

#include <atomic>
#include <memory>
#include <optional>

#include "absl/time/time.h"
#include "bridge/auth/backend_policy.h"
#include "bridge/bus/cluster_router.h"
#include "bridge/clock.h"
#include "bridge/device_delivery.h"
#include "bridge/queue/queue_deliverer.h"
#include "bridge/queue/request_queue.h"
#include "bridge/request_correlator.h"
#include "bridge/session_registry.h"
#include "bridge/trace_context.h"
#include "grpcpp/grpcpp.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive::server {

class RequestMetrics;

struct SendDeviceRequestDeps {
  const Clock& clock;
  SessionRegistry& registry;
  RequestCorrelator& correlator;
  absl::Duration default_timeout;
  DeliveryLimits delivery;
  const std::atomic<bool>& draining;
  // Cluster mode: reaches devices held by other replicas. Null: every
  // device is connected here or nowhere.
  ClusterRouter* router = nullptr;
  // Queued requests (queue_ttl): both null without --state-dir.
  RequestQueue* queue = nullptr;
  QueueDeliverer* deliverer = nullptr;
  absl::Duration max_queue_ttl = absl::Hours(24 * 7);
  // Counts every call answered OK (/metrics); may be null.
  RequestMetrics* metrics = nullptr;
  // Logs every call's end (request_audit.h).
  bool audit = false;
};

// Starts the call; the returned reactor deletes itself when done. `trace`
// (server/call_trace.h) names the call in its log lines, the request routed
// to another replica and, with --trace-to-device, the device's frame.
grpc::ServerUnaryReactor* StartSendDeviceRequest(grpc::CallbackServerContext* context,
                                                 const hive::bridge::v1::SendDeviceRequestRequest* request,
                                                 hive::bridge::v1::SendDeviceRequestResponse* response,
                                                 const SendDeviceRequestDeps& deps, TraceContext trace,
                                                 std::optional<BackendGrant> grant = std::nullopt);

// Checks ids and the command before anything is sent; INVALID_ARGUMENT
// naming the field otherwise.
absl::Status ValidateSendDeviceRequest(const hive::bridge::v1::SendDeviceRequestRequest& request);

}  // namespace hive::server

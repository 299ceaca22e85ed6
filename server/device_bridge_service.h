// server/device_bridge_service.h
// The DeviceBridge gRPC service on the callback API (no thread per call):
// SendDeviceRequest, SubscribeEvents and WatchDevices have reactors of their
// own; ListDevices and GetDevice are answered from the device twins and the
// live directory (device_view.h).
#pragma once

#include <atomic>

#include "absl/time/time.h"
#include "bridge/bus/cluster_router.h"
#include "bridge/clock.h"
#include "bridge/event_hub.h"
#include "bridge/request_correlator.h"
#include "bridge/session_registry.h"
#include "bridge/twin/twin_store.h"
#include "hive/bridge/v1/device_bridge.grpc.pb.h"
#include "server/backend_access.h"
#include "server/device_view.h"
#include "server/request_records.h"
#include "server/send_device_request_call.h"
#include "server/trace_header_metrics.h"
#include "server/watch_devices_call.h"

namespace hive::server {

class EventDeliveryMetrics;
class RequestMetrics;

// SubscribeEvents is the raw (bytes) method: see subscribe_events_call.h.
class DeviceBridgeService final : public hive::bridge::v1::DeviceBridge::WithRawCallbackMethod_SubscribeEvents<
                                      hive::bridge::v1::DeviceBridge::CallbackService> {
 public:
  struct Options {
    absl::Duration default_request_timeout = absl::Seconds(10);
    size_t max_frame_bytes = 1 << 20;
    // --trace-to-device: request frames carry the call's traceparent.
    bool trace_to_device = false;
    // Queued requests: both null without --state-dir.
    RequestQueue* queue = nullptr;
    QueueDeliverer* deliverer = nullptr;
    absl::Duration max_queue_ttl = absl::Hours(24 * 7);
    // Counts SendDeviceRequest's outcomes for /metrics; may be null.
    RequestMetrics* request_metrics = nullptr;
    // Logs every SendDeviceRequest call (--audit-log).
    bool audit_requests = false;
    // Times events from device to subscriber for /metrics; may be null.
    EventDeliveryMetrics* event_delivery = nullptr;
    // Counts trace headers the calls could not use; may be null.
    TraceHeaderMetrics* trace_metrics = nullptr;
  };

  // `router` is null unless in cluster mode, where ListDevices and GetDevice
  // answer from its fleet directory. `twins` is fed by `hub`.
  DeviceBridgeService(Options options, const Clock& clock, SessionRegistry& registry, RequestCorrelator& correlator,
                      EventHub& hub, ClusterRouter* router, const BackendAccess& access, const TwinStore& twins);

  // From now on new calls are refused with UNAVAILABLE; calls in flight go on.
  void BeginDrain() { draining_ = true; }

  grpc::ServerUnaryReactor* SendDeviceRequest(grpc::CallbackServerContext* context,
                                              const hive::bridge::v1::SendDeviceRequestRequest* request,
                                              hive::bridge::v1::SendDeviceRequestResponse* response) override;

  grpc::ServerWriteReactor<grpc::ByteBuffer>* SubscribeEvents(grpc::CallbackServerContext* context,
                                                              const grpc::ByteBuffer* bytes) override;

  grpc::ServerUnaryReactor* ListDevices(grpc::CallbackServerContext* context,
                                        const hive::bridge::v1::ListDevicesRequest* request,
                                        hive::bridge::v1::ListDevicesResponse* response) override;

  grpc::ServerUnaryReactor* GetDevice(grpc::CallbackServerContext* context,
                                      const hive::bridge::v1::GetDeviceRequest* request,
                                      hive::bridge::v1::GetDeviceResponse* response) override;

  grpc::ServerWriteReactor<hive::bridge::v1::WatchDevicesResponse>* WatchDevices(
      grpc::CallbackServerContext* context, const hive::bridge::v1::WatchDevicesRequest* request) override;
  grpc::ServerUnaryReactor* GetRequest(grpc::CallbackServerContext* context,
                                       const hive::bridge::v1::GetRequestRequest* request,
                                       hive::bridge::v1::GetRequestResponse* response) override;

  grpc::ServerUnaryReactor* CancelRequest(grpc::CallbackServerContext* context,
                                          const hive::bridge::v1::CancelRequestRequest* request,
                                          hive::bridge::v1::CancelRequestResponse* response) override;

 private:
  // Where devices are listed: this replica's, or the fleet's.
  SessionRegistry& directory_;
  EventHub& hub_;
  const TwinStore& twins_;
  const DeviceView view_;
  const BackendAccess& access_;
  std::atomic<bool> draining_{false};
  const SendDeviceRequestDeps send_deps_;
  const RequestRecordsDeps records_deps_;
  EventDeliveryMetrics* const event_delivery_;
  TraceHeaderMetrics* const trace_metrics_;
};

}  // namespace hive::server

// server/request_metrics.h
// SendDeviceRequest's outcomes in /metrics, by command kind, so that "how
// slow are acks" and "how many commands fail" have answers:
//   hivebridge_device_requests_total{command,status}        answered calls by the status they returned
//   hivebridge_device_request_ack_seconds{command}          written → device's ack (histogram)
//   hivebridge_device_request_result_seconds{command,outcome}  written → device's result (histogram)
// `command` is the Command oneof's field name (scheduler_action, raw, ...);
// `status` and `outcome` are RequestStatus names without their prefix, in
// lower case. Latencies are the ones the response carries (ack_latency,
// result_latency), so they are what the caller was told. Calls that failed
// with a gRPC error are counted by grpc_server_handled_total instead.
//
//   RequestMetrics metrics(registry);
//   metrics.Observe(request, response);   // once per call answered OK
#pragma once

#include <array>
#include <atomic>

#include "hive/bridge/v1/device_bridge.pb.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace hive::server {

class RequestMetrics {
 public:
  // Registers the families in `registry`, which must outlive this.
  explicit RequestMetrics(prometheus::Registry& registry);

  // Thread-safe; a few atomic loads once each series exists.
  void Observe(const hive::bridge::v1::SendDeviceRequestRequest& request,
               const hive::bridge::v1::SendDeviceRequestResponse& response);

 private:
  // Command::KindCase values (0: none set) and RequestStatus values.
  static constexpr size_t kKinds = 6;
  static constexpr size_t kStatuses = 9;

  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& ack_seconds_;
  prometheus::Family<prometheus::Histogram>& result_seconds_;
  std::array<std::array<std::atomic<prometheus::Counter*>, kStatuses>, kKinds> request_series_{};
  std::array<std::atomic<prometheus::Histogram*>, kKinds> ack_series_{};
  std::array<std::array<std::atomic<prometheus::Histogram*>, 2>, kKinds> result_series_{};
};

}  // namespace hive::server

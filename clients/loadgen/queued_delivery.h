// clients/loadgen/queued_delivery.h
// --mode=queue: the bridge's queued-request path, end to end (the bridge
// needs --state-dir). With the --devices devices offline it queues --queued
// requests spread over them (SendDeviceRequest with a queue_ttl, answered
// QUEUED; --concurrency calls in flight), then connects those devices
// (hive-device-sim's client in this process, acking every request) and
// times until they have received every queued request: the delivery rate.
// Then, with the same devices online, it runs the request load (--warmup,
// --duration, --concurrency) on the same bridge as the baseline: what the
// same requests cost sent live.
//
//   absl::StatusOr<QueuedDeliveryResult> result = RunQueuedDelivery(options);
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/loadgen/json_out.h"
#include "clients/loadgen/loadgen_options.h"
#include "clients/loadgen/request_load.h"

namespace hive::loadgen {

struct QueuedDeliveryResult {
  int devices = 0;
  int concurrency = 0;
  uint64_t queued = 0;                           // answered QUEUED
  std::map<std::string, uint64_t> queue_errors;  // everything else, by gRPC code (or UNEXPECTED_STATUS)
  absl::Duration queue_time;                     // first call until the last answer
  absl::Duration connect_time;                   // first connect until every device authenticated
  uint64_t delivered = 0;                        // queued requests the devices received
  absl::Duration delivery_time;                  // first connect until the last queued request arrived
  RequestLoadResult live;                        // the baseline: the same requests sent live

  // devices, concurrency, queued, queue_error_count, queue_errors{...}, queue_s, queued_per_s,
  // connect_s, delivered, delivery_s, delivered_per_s, live_rps, live{...request load fields}
  void AppendTo(JsonOut& out) const;
};

absl::StatusOr<QueuedDeliveryResult> RunQueuedDelivery(const LoadgenOptions& options);

}  // namespace hive::loadgen

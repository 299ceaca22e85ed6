// clients/loadgen/request_load.h
// --mode=request: keeps `concurrency` SendDeviceRequest calls (WAIT_MODE_ACK,
// the seed's SchedulerAction.stop) in flight with the gRPC callback API,
// starting the next call from each one's completion, the devices taken in
// turn. After the warm-up it measures a window: completed calls per second
// and their latency from start to completion. Against the echo server
// (--echo) the very same calls are made. Given --server-pid, it also reads
// the server's CPU time (utime + stime of /proc/PID/stat) at the window's
// two ends: the server's cost per request, which the load generator sharing
// the cores disturbs less than the request rate.
//
//   absl::StatusOr<RequestLoadResult> result = RunRequestLoad(options);
//   JsonOut out; result->AppendTo(out);
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/device_sim/device_roster.h"
#include "clients/loadgen/json_out.h"
#include "clients/loadgen/latency_histogram.h"
#include "clients/loadgen/loadgen_options.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive::loadgen {

struct RequestLoadResult {
  int concurrency = 0;
  int devices = 0;
  absl::Duration window;
  uint64_t acked = 0;                      // OK with REQUEST_STATUS_ACKED
  std::map<std::string, uint64_t> errors;  // everything else, by gRPC code (or UNEXPECTED_STATUS)
  LatencySnapshot latency;                 // of every completed call, errors included
  // The whole run, warm-up and drain included, so that a caller can
  // reconcile them with what the devices received (scripts/soak.py).
  uint64_t total_acked = 0;
  uint64_t total_failed = 0;  // every error and unexpected status
  // The server's CPU time in the window; set only with --server-pid.
  int server_pid = 0;
  std::optional<absl::Duration> server_cpu;

  double requests_per_second() const;
  // concurrency, devices, window_s, requests, rps, errors{...}, latency_us{...},
  // total_acked, total_failed; with --server-pid also server_pid, server_cpu_s,
  // server_cpu_us_per_request
  void AppendTo(JsonOut& out) const;
};

// What every call sends, once given a device and a fresh request id: the
// seed's device-request (fixtures/seed_device_request.json) as the API
// spells it.
hive::bridge::v1::SendDeviceRequestRequest SeedRequest();

absl::StatusOr<RequestLoadResult> RunRequestLoad(const LoadgenOptions& options);

// The live baseline of a phase whose own simulator holds `roster`'s devices
// (--mode=queue, --mode=job): the same requests, sent by this process
// straight to those devices, as RunRequestLoad with `options`.
absl::StatusOr<RequestLoadResult> RunLiveBaseline(const LoadgenOptions& options, const sim::DeviceRoster& roster);

}  // namespace hive::loadgen

// clients/loadgen/job_dispatch.h
// --mode=job: how fast a fleet job (hive.bridge.v1.FleetJobs, docs/jobs.md)
// dispatches one command to many devices, against the same requests sent by
// a backend itself (the bridge needs --state-dir). It connects the --devices
// devices (hive-device-sim's client in this process, acking every request),
// starts a job over exactly them (WAIT_MODE_ACK; max_rate as high as
// StartJob accepts, so only max_in_flight = --concurrency paces it) and
// times from StartJob until its WatchJob stream ends with the job. Then,
// with the same devices online, it runs the request load (--warmup,
// --duration, --concurrency) on the same bridge as the baseline.
//
// The job names its devices by a selector on an account of their own
// (derived from --device-seed), or with --job-target=devices by the explicit
// list of their ids, which each of the job's stored changes then carries.
//
//   absl::StatusOr<JobDispatchResult> result = RunJobDispatch(options);
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/loadgen/json_out.h"
#include "clients/loadgen/loadgen_options.h"
#include "clients/loadgen/request_load.h"
#include "hive/bridge/v1/jobs.pb.h"

namespace hive::loadgen {

struct JobDispatchResult {
  int devices = 0;
  int concurrency = 0;          // the job's max_in_flight and the baseline's calls in flight
  double max_rate = 0;          // the job's rollout.max_rate
  std::string target;           // "selector" or "devices"
  absl::Duration connect_time;  // first connect until every device authenticated
  absl::Duration start_time;    // the StartJob call
  absl::Duration job_time;      // StartJob sent until the WatchJob stream ended with the job
  bool ended = false;           // the job ended within --job-timeout (else it was cancelled)
  hive::bridge::v1::Job job;    // as the last WatchJob message (or CancelJob) left it
  uint64_t watch_messages = 0;  // WatchJob messages read
  uint64_t received = 0;        // requests the devices received
  RequestLoadResult live;       // the baseline: the same requests sent live

  // Devices at their outcome (succeeded, failed, expired or skipped).
  int64_t settled() const;
  // Devices at their outcome per second of job_time.
  double job_per_second() const;

  // devices, concurrency, max_rate, job_target, connect_s, start_s, job_s, job_per_s, job_server_s,
  // ended, job_state, end_reason, counters{...}, watch_messages, received, live_rps, ratio, live{...}
  void AppendTo(JsonOut& out) const;
};

absl::StatusOr<JobDispatchResult> RunJobDispatch(const LoadgenOptions& options);

}  // namespace hive::loadgen

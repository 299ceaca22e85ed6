// clients/loadgen/connection_scale.h
// --mode=scale: connects `devices` idle devices (hive-device-sim's client,
// in this process) spread over the --ws-url addresses, as fast as
// --connect-rate lets them, and waits until every one is authenticated (or
// merely open, against the echo server, which never authenticates). It
// reports the connect rate and, given --server-pid, the server's resident
// memory before and after (after --settle), per device, and the server's CPU
// time per connect (the connect rate alone may measure this process: it
// mints a token and runs a handshake for every device).
//
// Each URL of the same server at another 127.0.0.x address gives another
// range of ephemeral ports (about 28000 each); every device takes a file
// descriptor here and one in the server, so both need RLIMIT_NOFILE above
// the device count.
//
//   absl::StatusOr<ScaleResult> result = RunConnectionScale(options);
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/loadgen/json_out.h"
#include "clients/loadgen/loadgen_options.h"

namespace hive::loadgen {

struct ScaleResult {
  int devices = 0;
  int addresses = 0;
  int64_t ready = 0;  // authenticated (bridge) or open (echo) when the wait ended
  int64_t connect_failures = 0;
  absl::Duration connect_time;  // first connect until every device was ready (or the timeout)
  absl::Duration loadgen_cpu;   // this process's CPU time while connecting
  int64_t rss_before_kib = -1;  // -1: no --server-pid
  int64_t rss_after_kib = -1;
  absl::Duration server_cpu;  // the server's CPU time while connecting
  int64_t file_limit = 0;     // this process's RLIMIT_NOFILE

  // devices, addresses, ready, connect_failures, connect_s, connect_rate,
  // loadgen_cpu_s, file_limit; with --server-pid also rss_before_kib,
  // rss_after_kib, rss_per_device_kib, server_cpu_s, server_cpu_us_per_connect
  void AppendTo(JsonOut& out) const;
};

absl::StatusOr<ScaleResult> RunConnectionScale(const LoadgenOptions& options);

}  // namespace hive::loadgen

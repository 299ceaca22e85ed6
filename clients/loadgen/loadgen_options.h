// clients/loadgen/loadgen_options.h
// Every setting of hive-loadgen as one typed struct, read from the command
// line and HIVE_LOADGEN_* environment variables (--duration or
// HIVE_LOADGEN_DURATION; the flag wins) and validated before anything
// connects; a bad value stops it with a message naming the flag or variable.
// The flags are cli::Flags (cli/flags.h): durations are "30s", "500ms",
// "1m30s"; flags take - or _ (--ws-url, --ws_url). `hive-loadgen --help` lists
// every flag with its default and variable.
//
//   absl::StatusOr<LoadgenOptions> options = ParseLoadgenOptions(argc, argv, environ);
//   if (absl::IsCancelled(options.status())) { puts(options.status().message()); }  // --help
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hive::loadgen {

enum class Mode {
  kRequest,  // SendDeviceRequest (WAIT_MODE_ACK) at a fixed concurrency
  kFanout,   // devices emit events, SubscribeEvents streams consume them
  kScale,    // many idle authenticated devices: connect rate, server RSS per device
  kQueue,    // requests queued for offline devices, then delivered when they connect
  kJob,      // a fleet job over online devices, against the same requests sent live
};

// How --mode=job names its devices (JobTarget of jobs.proto).
enum class JobTarget {
  kSelector,  // a DeviceSelector on the run's own account, online devices
  kDevices,   // the explicit list of their ids
};

struct LoadgenOptions {
  Mode mode = Mode::kRequest;
  // Against the baseline echo servers (bench/grpc_echo_server,
  // bench/ws_echo_server) instead of a bridge, with the same client code.
  bool echo = false;

  std::string server = "127.0.0.1:9090";  // gRPC; comma-separated: channels dealt to each
  std::vector<std::string> ws_urls = {"ws://127.0.0.1:8080/v1/devices"};  // devices spread over these
  absl::Duration warmup = absl::Seconds(2);
  absl::Duration duration = absl::Seconds(10);
  int channels = 1;  // gRPC connections, each its own TCP connection

  // request
  int concurrency = 16;
  absl::Duration request_timeout = absl::Seconds(10);
  std::vector<std::string> device_ids;  // --device-ids, or derived as hive-device-sim does

  // queue
  int queued = 1000;  // requests queued, spread over --devices offline devices

  // job
  JobTarget job_target = JobTarget::kSelector;
  absl::Duration job_timeout = absl::Seconds(120);  // then the job is cancelled and reported as it stands

  // fanout
  int subscribers = 10;
  int emitters = 8;  // WebSocket devices sending events
  int window = 8;    // events in flight per emitter
  absl::Duration event_timeout = absl::Seconds(1);

  // fanout emitters and scale devices authenticate with minted tokens
  std::string jwt_secret_file;
  uint64_t device_seed = 1;
  uint64_t emitter_seed = 1000;

  // scale
  int devices = 1000;
  double connect_rate = 5000;
  int sim_threads = 1;
  int server_pid = 0;  // scale: read its RSS and CPU time from /proc; request: its CPU time (0: none)
  absl::Duration settle = absl::Seconds(3);
  absl::Duration connect_timeout = absl::Seconds(120);
};

// Parses argv (argv[0] is the program), then for each flag not given its
// HIVE_LOADGEN_* variable in `environ` ("NAME=value" entries, null-terminated;
// null reads none). INVALID_ARGUMENT names the flag or variable; `--help`
// yields CANCELLED whose message is the help text.
absl::StatusOr<LoadgenOptions> ParseLoadgenOptions(int argc, const char* const* argv,
                                                   const char* const* environ = nullptr);

// Usage, then every option with its default and variable.
std::string LoadgenOptionsHelp();

const char* ModeName(Mode mode);

}  // namespace hive::loadgen

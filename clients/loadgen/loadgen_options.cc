#include "clients/loadgen/loadgen_options.h"

#include <climits>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bridge/uuid.h"
#include "cli/flags.h"
#include "clients/device_sim/derived_ids.h"

namespace hive::loadgen {
namespace {

absl::Status Invalid(absl::string_view flag, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", problem));
}

absl::Status ValidateUuid(absl::string_view text) {
  if (IsUuid(text)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("expected UUIDs, got \"", text, "\""));
}

// Every option of the load generator, bound to the fields of `options`.
std::unique_ptr<cli::Flags> LoadgenFlags(LoadgenOptions& options) {
  auto flags = std::make_unique<cli::Flags>("hive-loadgen", "HIVE_LOADGEN_");
  flags->AcceptUnderscores();
  flags->SetDescription(
      "Load generator for hivebridge and its baselines; prints one JSON line of results.\n"
      "  hive-loadgen --mode=request --server=HOST:PORT --concurrency=16 --devices=1000\n"
      "  hive-loadgen --mode=fanout --server=HOST:PORT --ws-url=ws://HOST:PORT/v1/devices "
      "--subscribers=10 --jwt-secret-file=F\n"
      "  hive-loadgen --mode=scale --ws-url=URL1,URL2 --devices=50000 --server-pid=PID --jwt-secret-file=F\n"
      "  hive-loadgen --mode=queue --server=HOST:PORT --ws-url=URL --devices=100 --queued=1000 --jwt-secret-file=F\n"
      "  hive-loadgen --mode=job --server=HOST:PORT --ws-url=URL --devices=2000 --concurrency=64 --jwt-secret-file=F\n"
      "Add --echo to any of them to drive the baseline echo servers. Every option is a flag\n"
      "(--name=VALUE or --name VALUE; - or _ in names) or the environment variable in its [env: ...];\n"
      "a flag wins over its variable. DURATION is like 500ms, 10s or 1m30s.\n"
      "Exit status: 0 with results, 1 when the run could not be made, 2 for bad options.");
  cli::Flags& f = *flags;
  const absl::Duration day = absl::Hours(24);
  f.AddChoice("mode", &options.mode,
              {{"request", Mode::kRequest},
               {"fanout", Mode::kFanout},
               {"scale", Mode::kScale},
               {"queue", Mode::kQueue},
               {"job", Mode::kJob}},
              "request: SendDeviceRequest at a fixed concurrency; fanout: events to SubscribeEvents streams; "
              "scale: many idle devices; queue: requests queued for offline devices, then delivered as they "
              "connect; job: a fleet job over online devices, then the same requests sent live (queue and job: "
              "the bridge needs --state-dir)");
  f.AddSwitch("echo", &options.echo,
              "drive the baseline echo servers (bench/grpc_echo_server, bench/ws_echo_server) instead of a "
              "bridge");
  f.AddString("server", &options.server, "HOST:PORT[,...]",
              "gRPC address (request, fanout); comma-separated for several replicas: --channels are dealt to "
              "them");
  f.AddList("ws-url", &options.ws_urls, "URL[,URL...]",
            "device WebSocket URLs; devices are spread over them (several 127.0.0.x addresses each give "
            "another ~28000 ephemeral ports)");
  f.AddDuration("warmup", &options.warmup, absl::ZeroDuration(), day, "load before the measured window opens");
  f.AddDuration("duration", &options.duration, absl::Milliseconds(1), day, "the measured window");
  f.AddInteger("channels", &options.channels, 1, 100'000,
               "gRPC channels (TCP connections) the calls or streams are spread over");
  f.AddInteger("concurrency", &options.concurrency, 1, 1'000'000,
               "request: calls kept in flight; job: the job's rollout.max_in_flight and the baseline's calls");
  f.AddDuration("request-timeout", &options.request_timeout, absl::Milliseconds(1), absl::Hours(1),
                "request: each call's deadline");
  f.AddList("device-ids", &options.device_ids, "UUID[,UUID...]",
            "request: target devices (default: --devices ids derived from --device-seed, as hive-device-sim "
            "derives them)",
            ValidateUuid)
      .DefaultText("(derived)");
  f.AddInteger("devices", &options.devices, 1, 10'000'000,
               "request: devices to target; scale: devices to connect; queue: offline devices to queue for, then "
               "connect; job: devices to connect and send the job to");
  f.AddInteger("queued", &options.queued, 1, 10'000'000,
               "queue: requests to queue, spread over the devices (the bridge's --max-queued-per-device bounds "
               "each device's share)");
  f.AddChoice("job-target", &options.job_target, {{"selector", JobTarget::kSelector}, {"devices", JobTarget::kDevices}},
              "job: name the devices by a selector on their account (derived from --device-seed), or by the "
              "explicit list of their ids");
  f.AddDuration("job-timeout", &options.job_timeout, absl::Seconds(1), day,
                "job: cancel the job if it has not ended by then, and report it as it stands");
  f.AddInteger<uint64_t>("device-seed", &options.device_seed, 0, UINT64_MAX,
                         "hive-device-sim's --seed: derives the device ids");
  f.AddInteger("subscribers", &options.subscribers, 0, 1'000'000, "fanout: SubscribeEvents streams");
  f.AddInteger("emitters", &options.emitters, 1, 100'000, "fanout: WebSocket devices that send events");
  f.AddInteger("window", &options.window, 1, 1'000'000,
               "fanout: events each emitter keeps in flight (sent, not yet seen by every subscriber)");
  f.AddDuration("event-timeout", &options.event_timeout, absl::Milliseconds(1), absl::Hours(1),
                "fanout: an event not delivered by then counts as lost");
  f.AddInteger<uint64_t>("emitter-seed", &options.emitter_seed, 0, UINT64_MAX,
                         "fanout: derives the emitters' device ids (keep clear of --device-seed)");
  f.AddString("jwt-secret-file", &options.jwt_secret_file, "PATH",
              "the bridge's HS256 secret: fanout emitters and scale devices mint tokens")
      .DefaultText("(none)");
  f.AddNumber("connect-rate", &options.connect_rate, 0.01, 1e7, "scale: new connections per second");
  f.AddInteger("sim-threads", &options.sim_threads, 1, 256, "scale: simulator I/O threads per URL");
  f.AddInteger("server-pid", &options.server_pid, 0, INT_MAX,
               "the server's pid, 0 = none; scale: its RSS (/proc/PID/status) and CPU per connect are "
               "measured, request: its CPU per request over the measured window (/proc/PID/stat)");
  f.AddDuration("settle", &options.settle, absl::ZeroDuration(), absl::Hours(1),
                "scale: idle time after the last connect before RSS is read");
  f.AddDuration("connect-timeout", &options.connect_timeout, absl::Seconds(1), day,
                "scale: give up waiting for every device after this");
  return flags;
}

}  // namespace

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kRequest:
      return "request";
    case Mode::kFanout:
      return "fanout";
    case Mode::kScale:
      return "scale";
    case Mode::kQueue:
      return "queue";
    case Mode::kJob:
      return "job";
  }
  return "?";
}

absl::StatusOr<LoadgenOptions> ParseLoadgenOptions(int argc, const char* const* argv, const char* const* environ) {
  LoadgenOptions options;
  const std::unique_ptr<cli::Flags> flags = LoadgenFlags(options);
  if (absl::Status status = flags->Parse(argc, argv, environ); !status.ok()) return status;

  if (options.mode == Mode::kFanout && options.subscribers == 0 && !options.echo) {
    return Invalid("subscribers", "fanout against a bridge needs at least one subscriber");
  }
  if ((options.mode == Mode::kQueue || options.mode == Mode::kJob) && options.echo) {
    return Invalid("echo", absl::StrCat(ModeName(options.mode),
                                        " mode has no echo baseline: it measures its baseline, live requests, on "
                                        "the bridge"));
  }
  const bool needs_tokens = options.mode == Mode::kScale || options.mode == Mode::kQueue ||
                            options.mode == Mode::kJob || (options.mode == Mode::kFanout && !options.echo);
  if (needs_tokens && options.jwt_secret_file.empty()) {
    return Invalid("jwt-secret-file", "required: the devices mint their tokens with it");
  }
  if (options.device_ids.empty()) {
    for (int i = 0; i < options.devices; ++i) {
      options.device_ids.push_back(sim::DerivedUuid(options.device_seed, "device", static_cast<uint64_t>(i)));
    }
  }
  return options;
}

std::string LoadgenOptionsHelp() {
  LoadgenOptions defaults;
  return LoadgenFlags(defaults)->Help();
}

}  // namespace hive::loadgen

#include "clients/loadgen/loadgen_options.h"

#include <algorithm>
#include <tuple>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bridge/uuid.h"
#include "clients/device_sim/derived_ids.h"

ABSL_FLAG(std::string, mode, "request", "request | fanout | scale");
ABSL_FLAG(bool, echo, false,
          "drive the baseline echo servers (bench/grpc_echo_server, bench/ws_echo_server) instead of a bridge");
ABSL_FLAG(std::string, server, "127.0.0.1:9090",
          "gRPC HOST:PORT (request, fanout); comma-separated for several replicas: --channels are dealt to them");
ABSL_FLAG(std::vector<std::string>, ws_url, {"ws://127.0.0.1:8080/v1/devices"},
          "device WebSocket URLs, comma-separated; devices are spread over them (several 127.0.0.x addresses "
          "each give another ~28000 ephemeral ports)");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2), "load before the measured window opens");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "the measured window");
ABSL_FLAG(int, channels, 1, "gRPC channels (TCP connections) the calls or streams are spread over");
ABSL_FLAG(int, concurrency, 16, "request: calls kept in flight");
ABSL_FLAG(absl::Duration, request_timeout, absl::Seconds(10), "request: each call's deadline");
ABSL_FLAG(std::vector<std::string>, device_ids, {},
          "request: target devices, comma-separated (default: --devices ids derived from --device-seed, as "
          "hive-device-sim derives them)");
ABSL_FLAG(int, devices, 1000, "request: devices to target; scale: devices to connect");
ABSL_FLAG(uint64_t, device_seed, 1, "hive-device-sim's --seed: derives the device ids");
ABSL_FLAG(int, subscribers, 10, "fanout: SubscribeEvents streams");
ABSL_FLAG(int, emitters, 8, "fanout: WebSocket devices that send events");
ABSL_FLAG(int, window, 8, "fanout: events each emitter keeps in flight (sent, not yet seen by every subscriber)");
ABSL_FLAG(absl::Duration, event_timeout, absl::Seconds(1), "fanout: an event not delivered by then counts as lost");
ABSL_FLAG(uint64_t, emitter_seed, 1000, "fanout: derives the emitters' device ids (keep clear of --device-seed)");
ABSL_FLAG(std::string, jwt_secret_file, "", "the bridge's HS256 secret: fanout emitters and scale devices mint tokens");
ABSL_FLAG(double, connect_rate, 5000, "scale: new connections per second");
ABSL_FLAG(int, sim_threads, 1, "scale: simulator I/O threads per URL");
ABSL_FLAG(int, server_pid, 0, "scale: the server's pid, whose RSS (/proc/PID/status) is measured");
ABSL_FLAG(absl::Duration, settle, absl::Seconds(3), "scale: idle time after the last connect before RSS is read");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(120), "scale: give up waiting for every device after this");

namespace hive::loadgen {
namespace {

absl::Status Invalid(absl::string_view flag, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", problem));
}

absl::Status AtLeast(absl::string_view flag, int64_t value, int64_t min) {
  if (value >= min) return absl::OkStatus();
  return Invalid(flag, absl::StrCat("expected at least ", min, ", got ", value));
}

absl::StatusOr<Mode> ParseMode(absl::string_view text) {
  if (text == "request") return Mode::kRequest;
  if (text == "fanout") return Mode::kFanout;
  if (text == "scale") return Mode::kScale;
  return Invalid("mode", absl::StrCat("expected request, fanout or scale, got \"", text, "\""));
}

}  // namespace

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kRequest: return "request";
    case Mode::kFanout: return "fanout";
    case Mode::kScale: return "scale";
  }
  return "?";
}

absl::StatusOr<LoadgenOptions> ParseLoadgenOptions(int argc, char** argv) {
  // --help lists this file's flags (absl's default looks for a main file
  // named after the program).
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) { return absl::StrContains(file, "loadgen_options"); };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "load generator for hivebridge and its baselines; prints one JSON line of results.\n"
      "  hive-loadgen --mode=request --server=HOST:PORT --concurrency=16 --devices=1000\n"
      "  hive-loadgen --mode=fanout --server=HOST:PORT --ws-url=ws://HOST:PORT/v1/devices --subscribers=10 "
      "--jwt-secret-file=F\n"
      "  hive-loadgen --mode=scale --ws-url=URL1,URL2 --devices=50000 --server-pid=PID --jwt-secret-file=F\n"
      "  add --echo to any of them to drive the baseline echo servers; flags take - or _ (--ws-url, --ws_url)");
  // Flags are spelled with dashes (--ws-url) like the other tools'; absl
  // knows them with underscores.
  std::vector<std::string> args(argv, argv + argc);
  std::vector<char*> arg_pointers;
  for (std::string& arg : args) {
    if (absl::StartsWith(arg, "--")) {
      const size_t end = std::min(arg.find('='), arg.size());
      std::replace(arg.begin() + 2, arg.begin() + static_cast<ptrdiff_t>(end), '-', '_');
    }
    arg_pointers.push_back(arg.data());
  }
  absl::ParseCommandLine(static_cast<int>(arg_pointers.size()), arg_pointers.data());

  LoadgenOptions options;
  absl::StatusOr<Mode> mode = ParseMode(absl::GetFlag(FLAGS_mode));
  if (!mode.ok()) return mode.status();
  options.mode = *mode;
  options.echo = absl::GetFlag(FLAGS_echo);
  options.server = absl::GetFlag(FLAGS_server);
  options.ws_urls = absl::GetFlag(FLAGS_ws_url);
  options.warmup = absl::GetFlag(FLAGS_warmup);
  options.duration = absl::GetFlag(FLAGS_duration);
  options.channels = absl::GetFlag(FLAGS_channels);
  options.concurrency = absl::GetFlag(FLAGS_concurrency);
  options.request_timeout = absl::GetFlag(FLAGS_request_timeout);
  options.devices = absl::GetFlag(FLAGS_devices);
  options.device_seed = absl::GetFlag(FLAGS_device_seed);
  options.subscribers = absl::GetFlag(FLAGS_subscribers);
  options.emitters = absl::GetFlag(FLAGS_emitters);
  options.window = absl::GetFlag(FLAGS_window);
  options.event_timeout = absl::GetFlag(FLAGS_event_timeout);
  options.emitter_seed = absl::GetFlag(FLAGS_emitter_seed);
  options.jwt_secret_file = absl::GetFlag(FLAGS_jwt_secret_file);
  options.connect_rate = absl::GetFlag(FLAGS_connect_rate);
  options.sim_threads = absl::GetFlag(FLAGS_sim_threads);
  options.server_pid = absl::GetFlag(FLAGS_server_pid);
  options.settle = absl::GetFlag(FLAGS_settle);
  options.connect_timeout = absl::GetFlag(FLAGS_connect_timeout);

  for (const auto& [flag, value, min] : {std::tuple<const char*, int64_t, int64_t>{"channels", options.channels, 1},
                                         {"concurrency", options.concurrency, 1},
                                         {"devices", options.devices, 1},
                                         {"subscribers", options.subscribers, 0},
                                         {"emitters", options.emitters, 1},
                                         {"window", options.window, 1},
                                         {"sim-threads", options.sim_threads, 1},
                                         {"server-pid", options.server_pid, 0}}) {
    if (absl::Status status = AtLeast(flag, value, min); !status.ok()) return status;
  }
  if (options.duration <= absl::ZeroDuration()) return Invalid("duration", "must be positive");
  if (options.warmup < absl::ZeroDuration()) return Invalid("warmup", "must not be negative");
  if (options.connect_rate <= 0) return Invalid("connect-rate", "must be positive");
  if (options.ws_urls.empty()) return Invalid("ws-url", "at least one URL is required");
  if (options.mode == Mode::kFanout && options.subscribers == 0 && !options.echo) {
    return Invalid("subscribers", "fanout against a bridge needs at least one subscriber");
  }
  const bool needs_tokens = options.mode == Mode::kScale || (options.mode == Mode::kFanout && !options.echo);
  if (needs_tokens && options.jwt_secret_file.empty()) {
    return Invalid("jwt-secret-file", "required: the devices mint their tokens with it");
  }

  options.device_ids = absl::GetFlag(FLAGS_device_ids);
  for (const std::string& id : options.device_ids) {
    if (!IsUuid(id)) return Invalid("device-ids", absl::StrCat("expected UUIDs, got \"", id, "\""));
  }
  if (options.device_ids.empty()) {
    for (int i = 0; i < options.devices; ++i) {
      options.device_ids.push_back(sim::DerivedUuid(options.device_seed, "device", static_cast<uint64_t>(i)));
    }
  }
  return options;
}

}  // namespace hive::loadgen

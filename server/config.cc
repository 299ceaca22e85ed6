#include "server/config.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace hive::server {
namespace {

constexpr int64_t kKiB = 1024;
constexpr int64_t kMiB = 1024 * kKiB;
constexpr absl::string_view kEnvPrefix = "HIVEBRIDGE_";

// One row of the option table: all that parsing, the environment and --help
// know about an option.
struct Option {
  absl::string_view name;     // the flag without "--"; the field's name with '_' -> '-'
  absl::string_view metavar;  // what a value looks like, for --help
  absl::string_view help;
  // Stores `text` in the option's field. Errors say what is wrong with the
  // value; the caller prefixes where it came from (flag or variable).
  std::function<absl::Status(absl::string_view text, Config& config)> parse;
  // The field's value as --help shows it.
  std::function<std::string(const Config& config)> show;
};

template <typename T>
using Field = T Config::*;

// How text becomes a value of a kind of option, and back for --help.
template <typename T>
struct Kind {
  absl::string_view metavar;
  absl::StatusOr<T> (*parse)(absl::string_view text);
  std::string (*show)(T value);
};

std::string Quoted(absl::string_view text) { return absl::StrCat("\"", text, "\""); }

bool AllDigits(absl::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return absl::ascii_isdigit(c); });
}

absl::StatusOr<absl::Duration> ParseDurationText(absl::string_view text) {
  absl::Duration value;
  if (!absl::ParseDuration(text, &value)) {
    return absl::InvalidArgumentError(absl::StrCat("expected a duration such as 30s, got ", Quoted(text)));
  }
  return value;
}

absl::StatusOr<int64_t> ParseCount(absl::string_view text) {
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    return absl::InvalidArgumentError(absl::StrCat("expected an integer, got ", Quoted(text)));
  }
  return value;
}

absl::StatusOr<int64_t> ParseBytes(absl::string_view text) {
  absl::string_view digits = text;
  int64_t unit = 1;
  if (absl::ConsumeSuffix(&digits, "KiB")) {
    unit = kKiB;
  } else if (absl::ConsumeSuffix(&digits, "MiB")) {
    unit = kMiB;
  }
  int64_t count = 0;
  if (!AllDigits(digits) || !absl::SimpleAtoi(digits, &count) || count > INT64_MAX / unit) {
    return absl::InvalidArgumentError(absl::StrCat("expected a size such as 65536 or 1MiB, got ", Quoted(text)));
  }
  return count * unit;
}

std::string ShowDuration(absl::Duration value) { return absl::FormatDuration(value); }
std::string ShowCount(int64_t value) { return absl::StrCat(value); }
std::string ShowBytes(int64_t value) {
  if (value != 0 && value % kMiB == 0) return absl::StrCat(value / kMiB, "MiB");
  if (value != 0 && value % kKiB == 0) return absl::StrCat(value / kKiB, "KiB");
  return absl::StrCat(value);
}

constexpr Kind<absl::Duration> kDurationKind = {"DURATION", ParseDurationText, ShowDuration};
constexpr Kind<int64_t> kCountKind = {"N", ParseCount, ShowCount};
constexpr Kind<int64_t> kBytesKind = {"BYTES", ParseBytes, ShowBytes};

// An option whose value must lie in [min, max]; FieldT is the Config field's
// type, T the kind's (the range check makes the narrowing safe).
template <typename T, typename FieldT>
Option Ranged(absl::string_view name, Field<FieldT> field, const Kind<T>& kind, T min, T max, absl::string_view help) {
  return Option{name, kind.metavar, help,
                [field, kind, min, max](absl::string_view text, Config& config) -> absl::Status {
                  absl::StatusOr<T> value = kind.parse(text);
                  if (!value.ok()) return value.status();
                  if (*value < min || *value > max) {
                    return absl::InvalidArgumentError(
                        absl::StrCat("must be between ", kind.show(min), " and ", kind.show(max), ", got ", text));
                  }
                  config.*field = static_cast<FieldT>(*value);
                  return absl::OkStatus();
                },
                [field, kind](const Config& config) { return kind.show(static_cast<T>(config.*field)); }};
}

Option Duration(absl::string_view name, Field<absl::Duration> field, absl::Duration min, absl::Duration max,
                absl::string_view help) {
  return Ranged(name, field, kDurationKind, min, max, help);
}

template <typename FieldT>
Option Count(absl::string_view name, Field<FieldT> field, int64_t min, int64_t max, absl::string_view help) {
  return Ranged(name, field, kCountKind, min, max, help);
}

Option Bytes(absl::string_view name, Field<size_t> field, int64_t min, int64_t max, absl::string_view help) {
  return Ranged(name, field, kBytesKind, min, max, help);
}

// A string option; `validate` vets a value, `unset` is what --help shows for
// an empty default.
Option Text(absl::string_view name, absl::string_view metavar, Field<std::string> field,
            absl::Status (*validate)(absl::string_view text), absl::string_view unset, absl::string_view help) {
  return Option{
      name, metavar, help,
      [field, validate](absl::string_view text, Config& config) -> absl::Status {
        if (absl::Status status = validate(text); !status.ok()) return status;
        config.*field = std::string(text);
        return absl::OkStatus();
      },
      [field, unset](const Config& config) { return (config.*field).empty() ? std::string(unset) : config.*field; }};
}

absl::Status AnyPath(absl::string_view) { return absl::OkStatus(); }

// A DNS name (letters, digits, hyphens in dot-separated labels) or, when
// every label is numeric, an IPv4 address.
bool IsHostName(absl::string_view host) {
  if (host.size() > 253) return false;
  bool numeric = true;
  for (absl::string_view label : absl::StrSplit(host, '.')) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!absl::ascii_isalnum(c) && c != '-') return false;
    }
    numeric = numeric && AllDigits(label);
  }
  in_addr ipv4;
  return !numeric || inet_pton(AF_INET, std::string(host).c_str(), &ipv4) == 1;
}

// HOST:PORT, HOST a name, an IPv4 address, [IPv6] or empty (all interfaces).
absl::Status ValidateListen(absl::string_view text) {
  absl::string_view host;
  absl::string_view port;
  if (absl::StartsWith(text, "[")) {
    const size_t close = text.find("]:");
    in6_addr ipv6;
    if (close == absl::string_view::npos ||
        inet_pton(AF_INET6, std::string(text.substr(1, close - 1)).c_str(), &ipv6) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("expected [IPv6]:PORT such as [::]:8080, got ", Quoted(text)));
    }
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("expected HOST:PORT such as 0.0.0.0:8080, got ", Quoted(text)));
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (absl::StrContains(host, ':')) {
      return absl::InvalidArgumentError(
          absl::StrCat("an IPv6 host needs brackets, as in [::]:8080, got ", Quoted(text)));
    }
    if (!host.empty() && !IsHostName(host)) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected a host name or IP address before the port, got ", Quoted(text)));
    }
  }
  int number = 0;
  if (!AllDigits(port) || port.size() > 5 || !absl::SimpleAtoi(port, &number) || number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("port must be between 0 (any free port) and 65535, got ", Quoted(text)));
  }
  return absl::OkStatus();
}

absl::Status ValidateBus(absl::string_view text) {
  if (text == "inproc") return absl::OkStatus();
  for (absl::string_view scheme : {"amqp://", "amqps://"}) {
    if (absl::StartsWith(text, scheme) && text.size() > scheme.size()) return absl::OkStatus();
  }
  // The value is not echoed: a mistyped AMQP URL still carries its password.
  return absl::InvalidArgumentError("expected inproc or an amqp:// or amqps:// URL");
}

absl::Status ValidateReplicaId(absl::string_view text) {
  const bool ok = text.size() <= 255 && std::all_of(text.begin(), text.end(), [](char c) {
                    return absl::ascii_isalnum(c) || c == '.' || c == '-' || c == '_';
                  });
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("expected up to 255 letters, digits, '.', '-' or '_', got ", Quoted(text)));
}

absl::Status ValidateLogLevel(absl::string_view text) {
  for (absl::string_view level : {"debug", "info", "warn", "error"}) {
    if (text == level) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("expected one of debug, info, warn, error, got ", Quoted(text)));
}

const std::vector<Option>& Options() {
  static const std::vector<Option>* const options = new std::vector<Option>{
      Text("ws-listen", "HOST:PORT", &Config::ws_listen, ValidateListen, "",
           "WebSocket endpoint for devices, with /healthz, /readyz and /metrics"),
      Text("grpc-listen", "HOST:PORT", &Config::grpc_listen, ValidateListen, "",
           "gRPC endpoint for backends (DeviceBridge, health, reflection)"),
      Text("tls-cert", "PATH", &Config::tls_cert_file, AnyPath, "(none)",
           "PEM certificate chain; with --tls-key, devices connect with wss://"),
      Text("tls-key", "PATH", &Config::tls_key_file, AnyPath, "(none)", "PEM private key of --tls-cert"),
      Text("grpc-tls-cert", "PATH", &Config::grpc_tls_cert_file, AnyPath, "(none)",
           "PEM certificate chain; with --grpc-tls-key, backends call over TLS"),
      Text("grpc-tls-key", "PATH", &Config::grpc_tls_key_file, AnyPath, "(none)", "PEM private key of --grpc-tls-cert"),
      Text("grpc-client-ca", "PATH", &Config::grpc_client_ca_file, AnyPath, "(none)",
           "PEM CA: backends must present a client certificate it signed (mTLS)"),
      Text("backend-policy-file", "PATH", &Config::backend_policy_file, AnyPath, "(none: any caller, any account)",
           "which backends may call, by bearer token or certificate name, for which accounts (docs/SECURITY.md)"),
      Count("io-threads", &Config::io_threads, 0, 1024, "WebSocket I/O threads; 0 = one per core"),
      Count("max-connections", &Config::max_connections, 1, 10'000'000,
            "open device WebSockets; a connection beyond them is closed at once (1013, try again later)"),
      Count("max-connections-per-account", &Config::max_connections_per_account, 0, 10'000'000,
            "devices of one account connected at once; one more is closed at authentication (4403); 0 = no limit"),
      Duration("handshake-timeout", &Config::handshake_timeout, absl::Milliseconds(100), absl::Minutes(10),
               "time a new TCP connection has to complete the WebSocket upgrade, else it is dropped"),
      Duration("idle-timeout", &Config::idle_timeout, absl::ZeroDuration(), absl::Hours(24),
               "a device that sends no frame, ping or pong for this long is closed (4410); pongs count, so keep "
               "it above --ping-interval; 0 = off"),
      Text("jwt-secret-file", "PATH", &Config::jwt_secret_file, AnyPath, "(none)",
           "file holding the HS256 secret of device tokens"),
      Text("jwt-public-key-file", "PATH", &Config::jwt_public_key_file, AnyPath, "(none)",
           "PEM public key of device tokens: RSA for RS256, EC P-256 for ES256"),
      Duration("auth-timeout", &Config::auth_timeout, absl::Milliseconds(100), absl::Minutes(10),
               "time a new connection has to present its token"),
      Bytes("max-message-bytes", &Config::max_message_bytes, kKiB, 64 * kMiB,
            "largest device frame; a larger one closes the connection (1009)"),
      Count("max-bad-frames", &Config::max_bad_frames, 1, 1000,
            "invalid frames in a row before the connection closes (1008)"),
      Count("max-batch", &Config::max_batch, 1, 65536, "objects in one batch frame"),
      Count("max-json-depth", &Config::max_json_depth, 1, 512, "nesting depth of a device frame's JSON"),
      Count("device-event-rate", &Config::device_event_rate, 0, 1'000'000,
            "events per second one device may send on average; one over it gets an error reply, and "
            "--max-bad-frames such frames in a row close the connection (4429); 0 = no limit"),
      Count("device-event-burst", &Config::device_event_burst, 1, 10'000'000,
            "events one device may send at once above --device-event-rate"),
      Duration("ping-interval", &Config::ping_interval, absl::Milliseconds(100), absl::Hours(1),
               "WebSocket ping period; each pong is a device-alive event"),
      Duration("pong-timeout", &Config::pong_timeout, absl::Milliseconds(100), absl::Hours(1),
               "wait for a pong before closing; shorter than --ping-interval"),
      Duration("default-request-timeout", &Config::default_request_timeout, absl::Milliseconds(100), absl::Hours(1),
               "request wait when the gRPC caller sets no deadline"),
      Duration("dedupe-window", &Config::dedupe_window, absl::Seconds(1), absl::Hours(24),
               "how long a finished request id answers retries with its outcome"),
      Count("device-send-queue", &Config::device_send_queue, 1, 65536,
            "frames queued to one device before RESOURCE_EXHAUSTED"),
      Count("max-requests-per-device", &Config::max_requests_per_device, 1, 65536,
            "requests awaiting one device's ack or result; one more is RESOURCE_EXHAUSTED"),
      Count("max-pending-requests", &Config::max_pending_requests, 1, 10'000'000,
            "requests awaiting an ack or result in all; one more is RESOURCE_EXHAUSTED"),
      Count("event-history", &Config::event_history, 0, 10'000'000, "events kept for resume_after; 0 = none"),
      Count("subscriber-queue", &Config::subscriber_queue, 1, 1'000'000,
            "events queued to one subscriber before it gets a Gap"),
      Count("max-subscribers", &Config::max_subscribers, 1, 1'000'000,
            "open SubscribeEvents streams; one more is RESOURCE_EXHAUSTED"),
      Text("bus", "URL", &Config::bus, ValidateBus, "",
           "inproc, or amqp[s]://user:pass@host:port/vhost for cluster mode"),
      Text("replica-id", "NAME", &Config::replica_id, ValidateReplicaId, "(host name)",
           "this replica's name in cluster mode"),
      Duration("drain-timeout", &Config::drain_timeout, absl::ZeroDuration(), absl::Minutes(10),
               "at shutdown, time for in-flight requests before connections close (1001)"),
      Text("log-level", "LEVEL", &Config::log_level, ValidateLogLevel, "", "debug, info, warn or error"),
  };
  return *options;
}

const Option* FindOption(absl::string_view name) {
  for (const Option& option : Options()) {
    if (option.name == name) return &option;
  }
  return nullptr;
}

std::string EnvName(absl::string_view name) {
  std::string env = absl::StrCat(kEnvPrefix, name);
  absl::AsciiStrToUpper(&env);
  std::replace(env.begin(), env.end(), '-', '_');
  return env;
}

std::optional<absl::string_view> GetEnv(const char* const* environ, absl::string_view name) {
  for (const char* const* entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    absl::string_view text = *entry;
    if (absl::ConsumePrefix(&text, name) && absl::ConsumePrefix(&text, "=")) return text;
  }
  return std::nullopt;
}

using FlagValues = absl::flat_hash_map<const Option*, absl::string_view>;

// The value of each flag given, the last of a repeated flag winning.
absl::StatusOr<FlagValues> ReadFlags(int argc, const char* const* argv) {
  FlagValues flags;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") return absl::CancelledError(ConfigHelp());
    if (arg == "--version") return absl::CancelledError(absl::StrCat("hivebridge ", HIVEBRIDGE_VERSION));
    if (!absl::ConsumePrefix(&arg, "--")) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument ", Quoted(arg), "; see --help"));
    }
    const size_t equals = arg.find('=');
    const absl::string_view name = arg.substr(0, equals);
    const Option* option = FindOption(name);
    if (option == nullptr) return absl::InvalidArgumentError(absl::StrCat("--", name, ": unknown flag; see --help"));
    absl::string_view value;
    if (equals != absl::string_view::npos) {
      value = arg.substr(equals + 1);
    } else if (i + 1 < argc && !absl::StartsWith(argv[i + 1], "--")) {
      value = argv[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": missing value"));
    }
    flags[option] = value;
  }
  return flags;
}

absl::Status ValidateTogether(const Config& config) {
  if (config.jwt_secret_file.empty() == config.jwt_public_key_file.empty()) {
    return absl::InvalidArgumentError(
        config.jwt_secret_file.empty()
            ? "one of --jwt-secret-file or --jwt-public-key-file is required to check device tokens"
            : "--jwt-secret-file and --jwt-public-key-file exclude each other; give one");
  }
  if (config.tls_cert_file.empty() != config.tls_key_file.empty()) {
    return absl::InvalidArgumentError(config.tls_key_file.empty() ? "--tls-cert needs --tls-key"
                                                                  : "--tls-key needs --tls-cert");
  }
  if (config.grpc_tls_cert_file.empty() != config.grpc_tls_key_file.empty()) {
    return absl::InvalidArgumentError(config.grpc_tls_key_file.empty() ? "--grpc-tls-cert needs --grpc-tls-key"
                                                                       : "--grpc-tls-key needs --grpc-tls-cert");
  }
  if (!config.grpc_client_ca_file.empty() && config.grpc_tls_cert_file.empty()) {
    return absl::InvalidArgumentError("--grpc-client-ca needs --grpc-tls-cert and --grpc-tls-key (mTLS is TLS)");
  }
  if (config.pong_timeout >= config.ping_interval) {
    return absl::InvalidArgumentError(absl::StrCat("--pong-timeout: must be shorter than --ping-interval (",
                                                   absl::FormatDuration(config.ping_interval), "), got ",
                                                   absl::FormatDuration(config.pong_timeout)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> HostName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') {
    return absl::InvalidArgumentError("--replica-id: not set, and the host name is unavailable");
  }
  return std::string(name);
}

}  // namespace

absl::StatusOr<Config> ParseConfig(int argc, const char* const* argv, const char* const* environ) {
  absl::StatusOr<FlagValues> flags = ReadFlags(argc, argv);
  if (!flags.ok()) return flags.status();

  // Each option is read from one place only, so a variable that a flag
  // overrides cannot stop start-up even when its value is bad.
  Config config;
  for (const Option& option : Options()) {
    std::string source = absl::StrCat("--", option.name);
    std::optional<absl::string_view> text;
    if (const auto flag = flags->find(&option); flag != flags->end()) {
      text = flag->second;
    } else {
      source = EnvName(option.name);
      text = GetEnv(environ, source);
    }
    if (!text.has_value()) continue;
    if (absl::Status status = option.parse(*text, config); !status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": ", status.message()));
    }
  }

  if (absl::Status status = ValidateTogether(config); !status.ok()) return status;
  if (config.replica_id.empty()) {
    absl::StatusOr<std::string> host = HostName();
    if (!host.ok()) return host.status();
    config.replica_id = *std::move(host);
  }
  return config;
}

std::string ConfigHelp() {
  struct Row {
    std::string option, default_value, env, help;
  };
  const Config defaults;
  std::vector<Row> rows = {{"OPTION", "DEFAULT", "ENVIRONMENT", "DESCRIPTION"}};
  for (const Option& option : Options()) {
    rows.push_back({absl::StrCat("--", option.name, "=", option.metavar), option.show(defaults), EnvName(option.name),
                    std::string(option.help)});
  }
  rows.push_back({"--help, -h", "", "", "print this help and exit"});
  rows.push_back({"--version", "", "", "print the version and exit"});

  size_t option_width = 0, default_width = 0, env_width = 0;
  for (const Row& row : rows) {
    option_width = std::max(option_width, row.option.size());
    default_width = std::max(default_width, row.default_value.size());
    env_width = std::max(env_width, row.env.size());
  }
  const auto pad = [](const std::string& text, size_t width) {
    return absl::StrCat(text, std::string(width - text.size() + 2, ' '));
  };

  std::string help =
      "Usage: hivebridge [--OPTION=VALUE]...\n"
      "Bridges IoT devices on WebSocket (JSON) to backends on gRPC.\n\n"
      "Every option is a flag (--name=VALUE or --name VALUE) or an environment\n"
      "variable; a flag wins over its variable, both over the default. DURATION is\n"
      "like 250ms, 30s or 5m; BYTES like 65536, 64KiB or 1MiB.\n"
      "One of --jwt-secret-file and --jwt-public-key-file is required.\n\n";
  for (const Row& row : rows) {
    absl::StrAppend(&help, "  ", pad(row.option, option_width), pad(row.default_value, default_width),
                    pad(row.env, env_width), row.help, "\n");
  }
  return help;
}

}  // namespace hive::server

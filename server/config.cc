#include "server/config.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "cli/flags.h"
#include "cli/values.h"

namespace hive::server {
namespace {

constexpr int64_t kKiB = 1024;
constexpr int64_t kMiB = 1024 * kKiB;

std::string Quoted(absl::string_view text) { return absl::StrCat("\"", text, "\""); }

bool AllDigits(absl::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return absl::ascii_isdigit(c); });
}

// A path may be empty: HIVEBRIDGE_TLS_CERT= is the same as not setting it.
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
  in_addr ipv4{};
  return !numeric || inet_pton(AF_INET, std::string(host).c_str(), &ipv4) == 1;
}

// HOST:PORT, HOST a name, an IPv4 address, [IPv6] or empty (all interfaces).
absl::Status ValidateListen(absl::string_view text) {
  absl::string_view host;
  absl::string_view port;
  if (absl::StartsWith(text, "[")) {
    const size_t close = text.find("]:");
    in6_addr ipv6{};
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
    return absl::InvalidArgumentError(
        absl::StrCat("port must be between 0 (any free port) and 65535, got ", Quoted(text)));
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

// Event types as devices name them (docs/protocol.md §4), comma-separated.
absl::Status ValidateTwinTypes(absl::string_view text) {
  if (text.empty()) return absl::OkStatus();
  for (absl::string_view type : absl::StrSplit(text, ',')) {
    const bool ok = !type.empty() && type.size() <= 64 && std::all_of(type.begin(), type.end(), [](char c) {
      return absl::ascii_isalnum(c) || c == '.' || c == '-' || c == '_';
    });
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "expected event types of 1 to 64 letters, digits, '.', '-' or '_', separated by commas, got ", Quoted(type)));
    }
  }
  return absl::OkStatus();
}

// A BOOL value rather than a switch, so that it reads like every other
// option (--name=VALUE, HIVEBRIDGE_NAME=VALUE).
void AddBool(cli::Flags& f, absl::string_view name, bool* target, absl::string_view help) {
  f.AddValue(
      name, "BOOL",
      [target](absl::string_view text) -> absl::Status {
        absl::StatusOr<bool> value = cli::ParseBool(text);
        if (!value.ok()) return value.status();
        *target = *value;
        return absl::OkStatus();
      },
      *target ? "true" : "false", help);
}

absl::Status ValidateLogFormat(absl::string_view text) {
  if (text == "logfmt" || text == "json") return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("expected logfmt or json, got ", Quoted(text)));
}

absl::Status ValidateLogLevel(absl::string_view text) {
  for (absl::string_view level : {"debug", "info", "warn", "error"}) {
    if (text == level) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("expected one of debug, info, warn, error, got ", Quoted(text)));
}

// Every option of the server, bound to the fields of `config`: the one
// table that parsing, the environment and --help read.
std::unique_ptr<cli::Flags> ServerFlags(Config& config) {
  auto flags = std::make_unique<cli::Flags>("hivebridge", "HIVEBRIDGE_");
  flags->SetVersion(absl::StrCat("hivebridge ", HIVEBRIDGE_VERSION));
  flags->SetDescription(
      "Bridges IoT devices on WebSocket (JSON) to backends on gRPC.\n\n"
      "Every option is a flag (--name=VALUE or --name VALUE) or the environment variable in its\n"
      "[env: ...]; a flag wins over its variable, both over the default. DURATION is like 250ms,\n"
      "30s, 1m30s or 5m; BYTES like 65536, 64KiB or 1MiB. Unknown HIVEBRIDGE_* variables are\n"
      "ignored (Kubernetes sets some for a Service named hivebridge).\n"
      "One of --jwt-secret-file and --jwt-public-key-file is required.");
  cli::Flags& f = *flags;
  const absl::Duration ms100 = absl::Milliseconds(100);

  f.AddString("ws-listen", &config.ws_listen, "HOST:PORT",
              "WebSocket endpoint for devices, with /healthz, /readyz and /metrics", ValidateListen);
  f.AddString("grpc-listen", &config.grpc_listen, "HOST:PORT",
              "gRPC endpoint for backends (DeviceBridge, health, reflection)", ValidateListen);
  f.AddString("tls-cert", &config.tls_cert_file, "PATH",
              "PEM certificate chain; with --tls-key, devices connect with wss://", AnyPath)
      .DefaultText("(none)");
  f.AddString("tls-key", &config.tls_key_file, "PATH", "PEM private key of --tls-cert", AnyPath).DefaultText("(none)");
  f.AddString("grpc-tls-cert", &config.grpc_tls_cert_file, "PATH",
              "PEM certificate chain; with --grpc-tls-key, backends call over TLS", AnyPath)
      .DefaultText("(none)");
  f.AddString("grpc-tls-key", &config.grpc_tls_key_file, "PATH", "PEM private key of --grpc-tls-cert", AnyPath)
      .DefaultText("(none)");
  f.AddString("grpc-client-ca", &config.grpc_client_ca_file, "PATH",
              "PEM CA: backends must present a client certificate it signed (mTLS)", AnyPath)
      .DefaultText("(none)");
  f.AddDuration("tls-reload-interval", &config.tls_reload_interval, absl::ZeroDuration(), absl::Hours(24),
                "how often the TLS certificate and key files (wss:// and gRPC) are checked for a change and "
                "reloaded; a bad new pair is refused and the old one keeps serving; SIGHUP reloads at once; "
                "0 = only on SIGHUP");
  f.AddString("backend-policy-file", &config.backend_policy_file, "PATH",
              "which backends may call, by bearer token or certificate name, for which accounts "
              "(docs/SECURITY.md)",
              AnyPath)
      .DefaultText("(none: any caller, any account)");
  f.AddInteger("io-threads", &config.io_threads, 0, 1024, "WebSocket I/O threads; 0 = one per core");
  f.AddString("http-listen", &config.http_listen, "HOST:PORT",
              "HTTP/JSON gateway for backends (/api/v1/..., Server-Sent Events); needs "
              "--backend-policy-file or --http-gateway-without-policy=true",
              [](absl::string_view text) { return text.empty() ? absl::OkStatus() : ValidateListen(text); })
      .DefaultText("(none: off)");
  f.AddValue(
      "http-gateway-without-policy", "BOOL",
      [&config](absl::string_view text) -> absl::Status {
        absl::StatusOr<bool> value = cli::ParseBool(text);
        if (!value.ok()) return value.status();
        config.http_gateway_without_policy = *value;
        return absl::OkStatus();
      },
      config.http_gateway_without_policy ? "true" : "false",
      "let --http-listen serve without --backend-policy-file: anyone who reaches the port may call "
      "the API for any account");
  f.AddInteger("http-threads", &config.http_threads, 1, 4096,
               "HTTP gateway connections served at once; each open event stream holds one, and "
               "further connections wait for a free one");
  f.AddInteger("grpc-max-concurrent-streams", &config.grpc_max_concurrent_streams, 1, 1'000'000,
               "gRPC calls one backend connection may have open at once (HTTP/2 streams); the "
               "backend's gRPC queues further calls until one ends");
  f.AddByteSize("grpc-memory-limit", &config.grpc_memory_limit, 16 * kMiB, 65536 * kMiB,
                "memory gRPC may use for calls and connections (its resource quota); over it, gRPC "
                "refuses new calls RESOURCE_EXHAUSTED and reads less from connections");
  f.AddDuration("grpc-keepalive-time", &config.grpc_keepalive_time, absl::Seconds(1), absl::Hours(24),
                "ping a backend connection after this long without traffic, to find dead ones");
  f.AddDuration("grpc-keepalive-timeout", &config.grpc_keepalive_timeout, absl::Seconds(1), absl::Hours(1),
                "close a backend connection whose keepalive ping gets no answer in this long");
  f.AddDuration("grpc-min-ping-interval", &config.grpc_min_ping_interval, absl::Seconds(1), absl::Hours(24),
                "a backend ping sooner than this after the last one, with no data sent in between, is a "
                "strike");
  f.AddInteger("grpc-max-ping-strikes", &config.grpc_max_ping_strikes, 0, 1000,
               "strikes after which a backend connection is closed (GOAWAY too_many_pings); 0 = no limit");
  AddBool(f, "grpc-permit-keepalive-without-calls", &config.grpc_permit_keepalive_without_calls,
          "let backends ping connections that have no call open as often as --grpc-min-ping-interval "
          "(otherwise once in two hours)");
  f.AddInteger<size_t>("max-connections", &config.max_connections, 1, 10'000'000,
                       "open device WebSockets; a connection beyond them is closed at once (1013, try again "
                       "later)");
  f.AddInteger<size_t>("max-connections-per-account", &config.max_connections_per_account, 0, 10'000'000,
                       "devices of one account connected at once; one more is closed at authentication "
                       "(4403); 0 = no limit");
  f.AddDuration("handshake-timeout", &config.handshake_timeout, ms100, absl::Minutes(10),
                "time a new TCP connection has to complete the WebSocket upgrade, else it is dropped");
  f.AddDuration("idle-timeout", &config.idle_timeout, absl::ZeroDuration(), absl::Hours(24),
                "a device that sends no frame, ping or pong for this long is closed (4410); pongs count, "
                "so keep it above --ping-interval; 0 = off");
  f.AddString("jwt-secret-file", &config.jwt_secret_file, "PATH", "file holding the HS256 secret of device tokens",
              AnyPath)
      .DefaultText("(none)");
  f.AddString("jwt-public-key-file", &config.jwt_public_key_file, "PATH",
              "PEM public key of device tokens: RSA for RS256, EC P-256 for ES256", AnyPath)
      .DefaultText("(none)");
  f.AddDuration("auth-timeout", &config.auth_timeout, ms100, absl::Minutes(10),
                "time a new connection has to present its token");
  f.AddDuration("token-leeway", &config.token_leeway, absl::ZeroDuration(), absl::Minutes(10),
                "clock skew allowed on device tokens: one is accepted until its exp plus this, and a "
                "connection closes then (4401, token expired) unless the device sent a new token");
  f.AddByteSize("max-message-bytes", &config.max_message_bytes, kKiB, 64 * kMiB,
                "largest device frame; a larger one closes the connection (1009)");
  f.AddInteger("max-bad-frames", &config.max_bad_frames, 1, 1000,
               "invalid frames in a row before the connection closes (1008)");
  f.AddInteger<size_t>("max-batch", &config.max_batch, 1, 65536, "objects in one batch frame");
  f.AddInteger<size_t>("max-json-depth", &config.max_json_depth, 1, 512, "nesting depth of a device frame's JSON");
  f.AddInteger<int64_t>("device-event-rate", &config.device_event_rate, 0, 1'000'000,
                        "events per second one device may send on average; one over it gets an error "
                        "reply, and --max-bad-frames such frames in a row close the connection (4429); "
                        "0 = no limit");
  f.AddInteger<size_t>("device-event-burst", &config.device_event_burst, 1, 10'000'000,
                       "events one device may send at once above --device-event-rate; error replies take "
                       "from the same tokens");
  f.AddByteSize("max-event-bytes", &config.max_event_bytes, kKiB, 64 * kMiB,
                "largest device event, as its decoded form's serialized (protobuf) size; a larger one gets "
                "an error reply");
  f.AddDuration("ping-interval", &config.ping_interval, ms100, absl::Hours(1),
                "WebSocket ping period; each pong is a device-alive event");
  f.AddDuration("pong-timeout", &config.pong_timeout, ms100, absl::Hours(1),
                "wait for a pong before closing; shorter than --ping-interval");
  f.AddDuration("default-request-timeout", &config.default_request_timeout, ms100, absl::Hours(1),
                "request wait when the gRPC caller sets no deadline");
  f.AddDuration("dedupe-window", &config.dedupe_window, absl::Seconds(1), absl::Hours(24),
                "how long a finished request id answers retries with its outcome");
  f.AddInteger<size_t>("device-send-queue", &config.device_send_queue, 1, 65536,
                       "frames queued to one device before RESOURCE_EXHAUSTED");
  f.AddByteSize("device-send-buffer", &config.device_send_buffer, 64 * kKiB, 1024 * kMiB,
                "bytes waiting to be written to one device (queued and in the WebSocket's buffer); a frame "
                "beyond it is RESOURCE_EXHAUSTED and the device, not reading, is closed (4413)");
  f.AddInteger<size_t>("max-requests-per-device", &config.max_requests_per_device, 1, 65536,
                       "requests awaiting one device's ack or result; one more is RESOURCE_EXHAUSTED");
  f.AddInteger<size_t>("max-pending-requests", &config.max_pending_requests, 1, 10'000'000,
                       "requests awaiting an ack or result in all; one more is RESOURCE_EXHAUSTED");
  f.AddInteger<size_t>("max-connect-waiters", &config.max_connect_waiters, 1, 10'000'000,
                       "calls waiting (connect_timeout) for a device to connect; one more is "
                       "RESOURCE_EXHAUSTED");
  f.AddInteger<size_t>("max-remembered-requests", &config.max_remembered_requests, 16, 100'000'000,
                       "request outcomes remembered for retries; over it the least recently used is forgotten");
  f.AddByteSize("max-remembered-bytes", &config.max_remembered_bytes, 64 * kKiB, 65536 * kMiB,
                "estimated bytes of remembered request outcomes; over it the least recently used is forgotten");
  f.AddInteger<size_t>("event-history", &config.event_history, 0, 10'000'000, "events kept for resume_after; 0 = none");
  f.AddByteSize("event-history-bytes", &config.event_history_bytes, 0, 64 * kKiB * kMiB,
                "bytes the kept events may add up to (2 x serialized size + 512 each: the event and its wire "
                "form); oldest dropped first; 0 = no byte bound");
  f.AddInteger<size_t>("subscriber-queue", &config.subscriber_queue, 1, 1'000'000,
                       "events queued to one subscriber before it gets a Gap");
  f.AddByteSize("subscriber-queue-bytes", &config.subscriber_queue_bytes, 0, 64 * kKiB * kMiB,
                "bytes of events queued to one subscriber (2 x serialized size + 512 each) before it gets a "
                "Gap; 0 = no byte bound");
  f.AddInteger<size_t>("max-subscribers", &config.max_subscribers, 1, 1'000'000,
                       "open SubscribeEvents and WatchDevices streams together; one more is RESOURCE_EXHAUSTED");
  f.AddString("state-dir", &config.state_dir, "PATH",
              "directory of the embedded store (SQLite, WAL mode) that keeps device twins and queued requests "
              "across restarts; without it twins live in memory and queue_ttl is refused",
              AnyPath)
      .DefaultText("(none)");
  f.AddString("twin-types", &config.twin_types, "TYPES",
              "comma-separated event types whose latest event each device's twin keeps, besides "
              "device-version, device-state, instances and instance-state",
              ValidateTwinTypes)
      .DefaultText("(none)");
  f.AddInteger<size_t>("max-twins", &config.max_twins, 1, 100'000'000,
                       "device twins remembered; over it the twin of the device offline longest is forgotten");
  f.AddByteSize("max-twin-bytes", &config.max_twin_bytes, kMiB, 65536 * kMiB,
                "bytes of the events the twins keep (serialized size + 512 each); over it the twin of the "
                "device offline longest is forgotten");
  f.AddDuration("max-queue-ttl", &config.max_queue_ttl, absl::Seconds(1), absl::Hours(24 * 365),
                "longest queue_ttl a SendDeviceRequest may ask for; longer is INVALID_ARGUMENT");
  f.AddInteger<size_t>("max-queued-per-device", &config.max_queued_per_device, 1, 1'000'000,
                       "queued requests awaiting one device; one more is RESOURCE_EXHAUSTED");
  f.AddInteger<size_t>("max-queued-requests", &config.max_queued_requests, 1, 100'000'000,
                       "queued requests awaiting delivery in all; one more is RESOURCE_EXHAUSTED");
  f.AddByteSize("max-queued-bytes", &config.max_queued_bytes, kMiB, 65536 * kMiB,
                "bytes of queued requests (serialized size) awaiting delivery; one more is RESOURCE_EXHAUSTED");
  f.AddDuration("request-retention", &config.request_retention, absl::Minutes(1), absl::Hours(24 * 365),
                "how long GetRequest still answers for a queued request after it ended (delivered and "
                "answered, expired or cancelled)");
  f.AddInteger<size_t>("max-job-devices", &config.max_job_devices, 1, 10'000'000,
                       "devices one fleet job may select; more is RESOURCE_EXHAUSTED (a running job holds about "
                       "200 bytes per device in memory)");
  f.AddInteger<size_t>("max-active-jobs", &config.max_active_jobs, 1, 1000,
                       "fleet jobs running at once; one more is RESOURCE_EXHAUSTED");
  f.AddDuration("job-retention", &config.job_retention, absl::Minutes(1), absl::Hours(24 * 365),
                "how long GetJob, ListJobs and WatchJob still answer for a fleet job after it ended");
  f.AddString("bus", &config.bus, "URL", "inproc, or amqp[s]://user:pass@host:port/vhost for cluster mode",
              ValidateBus);
  f.AddString("replica-id", &config.replica_id, "NAME", "this replica's name in cluster mode", ValidateReplicaId)
      .DefaultText("(host name)");
  f.AddString("cluster-key-file", &config.cluster_key_file, "PATH",
              "cluster mode: file holding the key (at least 32 bytes, whitespace around it trimmed) that every "
              "message between replicas is signed with (HMAC-SHA256); messages not signed with it are refused; for a "
              "rotation, several keys one per line: the first signs, each is accepted",
              AnyPath)
      .DefaultText("(none)");
  AddBool(f, "cluster-insecure-unsigned", &config.cluster_insecure_unsigned,
          "cluster mode without --cluster-key-file: send and accept unsigned messages, so that anyone who may "
          "publish on the broker's virtual host can forge requests, presence and events");
  f.AddByteSize("cluster-buffer-bytes", &config.cluster_buffer_bytes, 1 * kMiB, 65536 * kMiB,
                "cluster mode: estimated bytes of this replica's device events held until the broker has them "
                "(while it is away, blocked or silent), with at most 100000 events; one more is dropped and "
                "counted (hivebridge_events_dropped_total)");
  f.AddDuration("drain-timeout", &config.drain_timeout, absl::ZeroDuration(), absl::Minutes(10),
                "at shutdown, time for in-flight requests before connections close (1001)");
  f.AddString("log-level", &config.log_level, "LEVEL", "debug, info, warn or error", ValidateLogLevel);
  f.AddString("log-format", &config.log_format, "FORMAT", "logfmt (key=value) or json (one object per line) on stderr",
              ValidateLogFormat);
  AddBool(f, "audit-log", &config.audit_log,
          "log every SendDeviceRequest call (event=device_request: request, device, account, command, caller, "
          "outcome, latency)");
  AddBool(f, "trace-to-device", &config.trace_to_device,
          "add the call's W3C traceparent to every request frame sent to a device (off: the seed's exact frame)");
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
  if (config.tls_reload_interval > absl::ZeroDuration() && config.tls_reload_interval < absl::Seconds(1)) {
    return absl::InvalidArgumentError(absl::StrCat("--tls-reload-interval: 0 (only on SIGHUP) or at least 1s, got ",
                                                   absl::FormatDuration(config.tls_reload_interval)));
  }
  // The gateway must not become an unauthenticated way in by accident.
  if (!config.http_listen.empty() && config.backend_policy_file.empty() && !config.http_gateway_without_policy) {
    return absl::InvalidArgumentError(
        "--http-listen needs --backend-policy-file (callers present a bearer token), or "
        "--http-gateway-without-policy=true to serve it to anyone who reaches the port");
  }
  if (config.bus != "inproc" && config.cluster_key_file.empty() && !config.cluster_insecure_unsigned) {
    return absl::InvalidArgumentError(
        "--bus=amqp... (cluster mode) needs --cluster-key-file (the key replicas sign their messages with), or "
        "--cluster-insecure-unsigned=true to run without it");
  }
  if (!config.cluster_key_file.empty() && config.cluster_insecure_unsigned) {
    return absl::InvalidArgumentError(
        "--cluster-key-file and --cluster-insecure-unsigned=true exclude each other; give one");
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
  Config config;
  const std::unique_ptr<cli::Flags> flags = ServerFlags(config);
  if (absl::Status status = flags->Parse(argc, argv, environ); !status.ok()) return status;
  if (absl::Status status = ValidateTogether(config); !status.ok()) return status;
  if (config.replica_id.empty()) {
    absl::StatusOr<std::string> host = HostName();
    if (!host.ok()) return host.status();
    config.replica_id = *std::move(host);
  }
  return config;
}

std::string ConfigHelp() {
  Config defaults;
  return ServerFlags(defaults)->Help();
}

}  // namespace hive::server

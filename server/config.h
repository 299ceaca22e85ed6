// server/config.h
// Every setting of the hivebridge executable as one typed struct, parsed once
// at start-up from flags (--ws-listen=...) and HIVEBRIDGE_* environment
// variables (HIVEBRIDGE_WS_LISTEN=...), flags winning, and validated before
// anything starts: an invalid value stops start-up with a message naming the
// flag or variable. The flags are cli::Flags (cli/flags.h), so durations,
// sizes and --help look as in the other executables. `hivebridge --help`
// prints every option with its default and its environment variable, in 100
// columns. Unknown flags are errors; unknown HIVEBRIDGE_* variables are
// ignored, because Kubernetes defines some (HIVEBRIDGE_PORT,
// HIVEBRIDGE_SERVICE_HOST) for a Service named hivebridge.
//
//   absl::StatusOr<Config> config = ParseConfig(argc, argv, environ);
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hive::server {

struct Config {
  // Listening.
  std::string ws_listen = "0.0.0.0:8080";    // WebSocket + /healthz /readyz /metrics
  std::string grpc_listen = "0.0.0.0:9090";  // DeviceBridge, health, reflection
  std::string tls_cert_file;                 // with tls_key_file: wss:// instead of ws://
  std::string tls_key_file;
  std::string grpc_tls_cert_file;  // with grpc_tls_key_file: gRPC over TLS
  std::string grpc_tls_key_file;
  std::string grpc_client_ca_file;  // backends must present a certificate it signed (mTLS)
  // How often the TLS files are checked for a new certificate (SIGHUP reloads
  // at once); 0 = only on SIGHUP.
  absl::Duration tls_reload_interval = absl::Minutes(1);
  std::string backend_policy_file;  // who may call the API for which accounts (backend_policy.h)
  int io_threads = 0;               // WebSocket I/O threads, one io_context each; 0 = one per core
  // The HTTP/JSON gateway (docs/protocol.md#http-json-gateway): off while
  // empty. It needs backend_policy_file unless http_gateway_without_policy.
  std::string http_listen;
  bool http_gateway_without_policy = false;
  int http_threads = 32;  // HTTP connections served at once (an SSE stream holds one)

  // gRPC server: what one backend connection may hold and how idle ones are
  // found out.
  int grpc_max_concurrent_streams = 1000;                     // calls at once on one HTTP/2 connection
  size_t grpc_memory_limit = size_t{1} << 30;                 // gRPC's own buffers (its resource quota)
  absl::Duration grpc_keepalive_time = absl::Minutes(1);      // ping an idle connection this often
  absl::Duration grpc_keepalive_timeout = absl::Seconds(20);  // no ping ack in this long: close
  absl::Duration grpc_min_ping_interval = absl::Seconds(30);  // client pings closer than this are strikes
  int grpc_max_ping_strikes = 2;                              // strikes before GOAWAY; 0 = no limit
  bool grpc_permit_keepalive_without_calls = false;           // client pings with no call open allowed

  // Connections.
  size_t max_connections = 100000;                      // open WebSockets; more are closed 1013
  size_t max_connections_per_account = 0;               // authenticated devices of one account; 0 = no limit
  absl::Duration handshake_timeout = absl::Seconds(5);  // accept to upgraded, else dropped
  absl::Duration idle_timeout = absl::ZeroDuration();   // no frame, ping or pong: close 4410; 0 = off

  // Device authentication (one of the two is required).
  std::string jwt_secret_file;      // HS256 shared secret
  std::string jwt_public_key_file;  // RS256 or ES256 public key (PEM)
  absl::Duration auth_timeout = absl::Seconds(10);
  // Clock skew allowed on device tokens: accepted until exp + this (a session
  // closes then with 4401 unless refreshed) and from nbf - this.
  absl::Duration token_leeway = absl::Seconds(30);

  // Device frames.
  size_t max_message_bytes = 1 << 20;  // larger frames close with 1009
  int max_bad_frames = 10;             // invalid frames in a row before close 1008
  size_t max_batch = 256;              // objects in one batch frame
  size_t max_json_depth = 32;
  int64_t device_event_rate = 100;     // events per second per device; 0 = no limit
  size_t device_event_burst = 1000;    // events at once above the rate
  size_t max_event_bytes = 512 << 10;  // one decoded event's serialized size; larger: error reply

  // Liveness.
  absl::Duration ping_interval = absl::Seconds(30);
  absl::Duration pong_timeout = absl::Seconds(10);

  // Requests.
  absl::Duration default_request_timeout = absl::Seconds(10);  // when the caller sets no deadline
  absl::Duration dedupe_window = absl::Minutes(5);
  size_t device_send_queue = 256;       // frames queued to one device before RESOURCE_EXHAUSTED
  size_t device_send_buffer = 8 << 20;  // bytes waiting to go to one device: above it close 4413
  size_t max_requests_per_device = 32;  // pending requests of one device before RESOURCE_EXHAUSTED
  size_t max_pending_requests = 10000;  // pending requests in all before RESOURCE_EXHAUSTED
  size_t max_connect_waiters = 10000;   // calls waiting for a device to connect before RESOURCE_EXHAUSTED
  // Remembered request outcomes (the dedupe window's memory), by count and
  // estimated bytes; over either, the least recently touched idle one goes.
  size_t max_remembered_requests = 500'000;
  size_t max_remembered_bytes = size_t{64} << 20;

  // Events.
  size_t event_history = 10000;             // events kept for resume_after
  size_t event_history_bytes = 64 << 20;    // and their bytes (EventBytes); 0 = no byte bound
  size_t subscriber_queue = 1024;           // events queued to one subscriber before a Gap
  size_t subscriber_queue_bytes = 4 << 20;  // and their bytes; 0 = no byte bound
  size_t max_subscribers = 1000;            // open SubscribeEvents streams before RESOURCE_EXHAUSTED

  // Fleet memory (docs/architecture.md#fleet-memory): device twins and
  // queued requests. Without state_dir twins live in memory only and queued
  // requests are refused.
  std::string state_dir;                               // the embedded store (SQLite, WAL) lives here
  std::string twin_types;                              // comma-separated extra event types the twin keeps
  size_t max_twins = 1'000'000;                        // devices remembered; over it the longest offline goes
  size_t max_twin_bytes = size_t{256} << 20;           // and their bytes (EventBytes of the kept events)
  absl::Duration max_queue_ttl = absl::Hours(24 * 7);  // longest queue_ttl a request may ask for
  size_t max_queued_per_device = 100;                  // queued requests awaiting one device
  size_t max_queued_requests = 100'000;                // queued requests in all
  size_t max_queued_bytes = size_t{256} << 20;         // and their bytes
  absl::Duration request_retention = absl::Hours(24);  // a queued request's record after its end
  size_t max_job_devices = 100'000;                    // devices one fleet job may select
  size_t max_active_jobs = 16;                         // fleet jobs running at once
  absl::Duration job_retention = absl::Hours(24 * 7);  // an ended job's record

  // Cluster.
  std::string bus = "inproc";  // "inproc" or amqp://user:pass@host:port/vhost
  std::string replica_id;      // defaults to the host name
  // The key every inter-replica message is signed with (HMAC-SHA256; at
  // least 32 bytes); cluster mode refuses to start without it unless
  // cluster_insecure_unsigned says so.
  std::string cluster_key_file;
  bool cluster_insecure_unsigned = false;  // send and accept unsigned messages
  // Events held until the broker has them, in estimated bytes (and 100000
  // by count); one more is dropped and counted.
  size_t cluster_buffer_bytes = size_t{64} << 20;

  // Lifecycle and logs.
  absl::Duration drain_timeout = absl::Seconds(15);
  std::string log_level = "info";     // debug, info, warn, error
  std::string log_format = "logfmt";  // logfmt or json
  bool audit_log = true;              // a log line for every SendDeviceRequest call
  bool trace_to_device = false;       // request frames carry the call's traceparent
};

// Parses flags and environment (a null-terminated "NAME=value" array, as
// `environ`). Returns INVALID_ARGUMENT naming the option and the problem.
// `--help` yields a status with code CANCELLED whose message is the help text.
absl::StatusOr<Config> ParseConfig(int argc, const char* const* argv, const char* const* environ);

// The help text: usage, then every option with its default and environment
// variable.
std::string ConfigHelp();

}  // namespace hive::server

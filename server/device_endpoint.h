// server/device_endpoint.h
// Accepts device WebSockets at ws(s)://<--ws-listen>/v1/devices and answers
// plain HTTP on the same port. One websocketpp listener per I/O thread, each
// on its own io_context and all bound to the same port with SO_REUSEPORT, so
// the kernel spreads connections over threads and a connection never changes
// thread: its session needs no locks.
//
// Limits: a TCP (or TLS) connection that has not completed the WebSocket
// upgrade within handshake_timeout is dropped (slowloris). Beyond
// max_connections open WebSockets, a new one is closed at once with 1013
// "try again later" (rather than refused at the upgrade with a 503, whose
// status many device WebSocket stacks do not surface: every one reports a
// close code, and devices already act on the bridge's close codes).
//
// Out of file descriptors, a listener cannot accept: it logs
// `event=accept_failed` once, counts every failure
// (hivebridge_accept_errors_total) and retries every 100 ms, serving its
// connections meanwhile, rather than retrying at once and spinning.
//
//   auto endpoint = DeviceEndpoint::Start(options, services, limits, routes);
//   ... (*endpoint)->StopAccepting(); (*endpoint)->CloseAll(1001, "shutting down"); (*endpoint)->Stop();
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bridge/device_session.h"
#include "bridge/limit_counters.h"
#include "server/http_routes.h"
#include "transport/tls_context_source.h"

namespace hive::server {

struct DeviceEndpointOptions {
  std::string listen = "0.0.0.0:8080";  // port 0 picks a free port
  int io_threads = 1;
  size_t max_message_bytes = 1 << 20;
  // Open WebSocket connections, authenticated or not; 0: no limit.
  size_t max_connections = 0;
  // From accept to the end of the upgrade, the TLS handshake included.
  absl::Duration handshake_timeout = absl::Seconds(5);
  // Set: wss://, each new connection taking the source's current context
  // (reloadable). Must outlive the endpoint.
  transport::TlsContextSource* tls = nullptr;
  // Where refusals are counted; may be null.
  LimitCounters* counters = nullptr;
};

class DeviceEndpoint {
 public:
  virtual ~DeviceEndpoint() = default;

  // Binds, then runs the I/O threads. `services`, `limits` and `routes` must
  // outlive the endpoint.
  static absl::StatusOr<std::unique_ptr<DeviceEndpoint>> Start(const DeviceEndpointOptions& options,
                                                               SessionServices& services, const SessionLimits& limits,
                                                               HttpRoutes routes);

  virtual int port() const = 0;
  // New connections are refused from now on.
  virtual void StopAccepting() = 0;
  // Closes every open connection with `code`.
  virtual void CloseAll(int code, const std::string& reason) = 0;
  // Waits up to `grace` for connections to finish closing, then stops the
  // I/O threads and joins them.
  virtual void Stop(absl::Duration grace) = 0;
  virtual size_t connection_count() const = 0;
  // Accepts that failed (out of file descriptors, mostly); each failure
  // pauses that listener briefly instead of retrying at once.
  virtual uint64_t accept_errors() const = 0;
};

}  // namespace hive::server

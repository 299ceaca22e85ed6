// server/bridge_server.h
// The whole bridge in one process: builds every component from a Config in
// dependency order, serves, and shuts down gracefully.
//
//   auto server = BridgeServer::Start(config);   // listening when it returns
//   ... on SIGHUP:
//   (*server)->ReloadTls();  // new certificates for new connections
//   ... on SIGTERM:
//   (*server)->Shutdown();   // readiness false, drain, end streams, close 1001
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "server/config.h"

namespace hive::server {

class BridgeServer {
 public:
  virtual ~BridgeServer() = default;

  static absl::StatusOr<std::unique_ptr<BridgeServer>> Start(const Config& config);

  virtual int websocket_port() const = 0;
  virtual int grpc_port() const = 0;

  // Reloads the TLS certificates and keys of both listeners from their files
  // (SIGHUP). A bad pair is refused with a log line and the previous one
  // keeps serving; see server/tls_reloader.h. Call from a normal thread.
  virtual void ReloadTls() = 0;

  // Readiness goes false and new calls are refused; requests in flight get
  // up to drain_timeout to finish; then streams end with OK, devices are
  // closed with 1001 and the servers stop.
  virtual void Shutdown() = 0;
};

}  // namespace hive::server

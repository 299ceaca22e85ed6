// server/http_gateway.h
// The HTTP/JSON gateway (docs/protocol.md#http-json-gateway): the DeviceBridge
// API as /api/v1/... endpoints on --http-listen, with the proto3 JSON mapping
// for bodies (protobuf's json_util), grpc-gateway's status mapping and error
// bodies, and the two server streams as Server-Sent Events. Every call goes
// through the bridge's own gRPC service on an in-process channel, with the
// request's Authorization header as `authorization` metadata, so validation,
// the backend policy and status codes are exactly the gRPC API's.
//
//   absl::StatusOr<std::unique_ptr<HttpGateway>> gateway =
//       HttpGateway::Start(options, grpc_server->InProcessChannel(grpc::ChannelArguments()));
//   (*gateway)->port();
//   (*gateway)->Stop();  // after the gRPC server ended its streams
//
// cpp-httplib serves each connection on a worker thread of its pool
// (--http-threads); an event stream holds its worker while it lasts.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bridge/limit_counters.h"
#include "grpcpp/grpcpp.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace hive::server {

struct HttpGatewayOptions {
  std::string listen;  // HOST:PORT; port 0 = any free port
  // Both set: HTTPS with this certificate and key (the gRPC port's).
  std::string tls_cert_file;
  std::string tls_key_file;
  int threads = 32;
  // Largest request body; a larger one is 413 (counted as max-message-bytes).
  size_t max_body_bytes = 1 << 20;
  // How long an event stream may stay silent before a heartbeat comment.
  absl::Duration heartbeat = absl::Seconds(15);
  LimitCounters* counters = nullptr;
};

class HttpGateway {
 public:
  static absl::StatusOr<std::unique_ptr<HttpGateway>> Start(const HttpGatewayOptions& options,
                                                            std::shared_ptr<grpc::Channel> channel);
  ~HttpGateway();
  HttpGateway(const HttpGateway&) = delete;
  HttpGateway& operator=(const HttpGateway&) = delete;

  int port() const { return port_; }
  // Stops accepting and waits for the workers (idle keep-alive connections
  // wait out cpp-httplib's keep-alive timeout, 5 s). Idempotent.
  void Stop();

 private:
  HttpGateway() = default;

  std::unique_ptr<httplib::Server> server_;
  std::thread listener_;
  std::atomic<bool> listener_done_{false};
  int port_ = 0;
};

}  // namespace hive::server

// server/grpc_health_check.h
// A blocking client of the standard gRPC health service
// (grpc.health.v1.Health/Check), for the HTTP gateway's GET /api/v1/health:
// it asks the bridge's own gRPC server over the in-process channel, so the
// answer is exactly what grpc-health-probe would get (SERVING while ready,
// NOT_SERVING while draining or cut off from the bus). The project generates
// only the health messages, so the call goes through gRPC's generic stub by
// method name.
//
//   GrpcHealthCheck health(channel);
//   grpc::health::v1::HealthCheckResponse response;
//   grpc::Status status = health.Check(&context, request, &response);
#pragma once

#include <memory>

#include "grpc/health/v1/health.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"

namespace hive::server {

class GrpcHealthCheck {
 public:
  explicit GrpcHealthCheck(std::shared_ptr<grpc::Channel> channel) : stub_(std::move(channel)) {}

  // One Check call; blocks until it completes (the context's deadline bounds it).
  grpc::Status Check(grpc::ClientContext* context, const grpc::health::v1::HealthCheckRequest& request,
                     grpc::health::v1::HealthCheckResponse* response);

 private:
  grpc::TemplatedGenericStub<grpc::health::v1::HealthCheckRequest, grpc::health::v1::HealthCheckResponse> stub_;
};

}  // namespace hive::server

// tests/integration/support/health_check.h
// The standard gRPC health service (grpc.health.v1.Health), called as
// grpc-health-probe, Envoy or a client-side health check would: Check for a
// service name, and Watch for its changes. The project generates only the
// health messages (for reflection), so the calls go through gRPC's generic
// stub by method name.
//
//   HealthAnswer answer = CheckHealth(*channel, "hive.bridge.v1.DeviceBridge");
//   EXPECT_EQ(answer.serving, HealthCheckResponse::SERVING);
//   HealthWatch watch(channel, "");
//   std::optional<HealthCheckResponse::ServingStatus> next = watch.Next(kHangBound);
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/codegen/proto_utils.h"  // SerializationTraits of protobuf messages

namespace hive::integration {

using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

struct HealthAnswer {
  grpc::Status status;
  ServingStatus serving = grpc::health::v1::HealthCheckResponse::UNKNOWN;
};

// One Check call (10 s deadline).
HealthAnswer CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service);

// An open Watch call; each Next is the next status the server sends.
class HealthWatch {
 public:
  HealthWatch(const std::shared_ptr<grpc::Channel>& channel, const std::string& service);
  ~HealthWatch();
  HealthWatch(const HealthWatch&) = delete;
  HealthWatch& operator=(const HealthWatch&) = delete;

  // The next status, or nullopt when none came within `timeout` or the call
  // ended.
  std::optional<ServingStatus> Next(absl::Duration timeout);

 private:
  using Stub = grpc::TemplatedGenericStub<grpc::health::v1::HealthCheckRequest, grpc::health::v1::HealthCheckResponse>;
  // Starts the call and sends the request; false when that failed.
  bool Open(const std::string& service);
  // Waits for the event tagged `tag`; false when it failed or timed out.
  bool Await(void* tag, absl::Duration timeout);

  grpc::CompletionQueue queue_;
  grpc::ClientContext context_;
  Stub stub_;
  std::unique_ptr<
      grpc::ClientAsyncReaderWriter<grpc::health::v1::HealthCheckRequest, grpc::health::v1::HealthCheckResponse>>
      call_;
  grpc::health::v1::HealthCheckResponse response_;
  bool reading_ = false;  // a Read is outstanding
  bool broken_;           // an operation failed: the call is over
};

}  // namespace hive::integration

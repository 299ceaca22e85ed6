#include "server/grpc_health_check.h"

#include "absl/synchronization/notification.h"
#include "grpcpp/impl/codegen/proto_utils.h"  // SerializationTraits of protobuf messages

namespace hive::server {

grpc::Status GrpcHealthCheck::Check(grpc::ClientContext* context, const grpc::health::v1::HealthCheckRequest& request,
                                    grpc::health::v1::HealthCheckResponse* response) {
  absl::Notification done;
  grpc::Status result;
  stub_.UnaryCall(context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, response,
                  [&done, &result](grpc::Status status) {
                    result = std::move(status);
                    done.Notify();
                  });
  done.WaitForNotification();
  return result;
}

}  // namespace hive::server

// server/grpc_status.h
// The one place absl::Status becomes grpc::Status (the codes are the same
// canonical set, so the mapping is by value).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/status.h"

namespace hive::server {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// A unary call answered at once with `status` (its response as filled so far).
inline grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace hive::server

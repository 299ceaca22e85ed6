// server/grpc_http_status.h
// The HTTP status of a gRPC status code on the HTTP/JSON gateway, exactly as
// grpc-gateway's runtime.HTTPStatusFromCode maps it (so clients written for
// grpc-gateway or Envoy's transcoder read our errors the same way), and the
// error body both of them send: {"code": <gRPC code>, "message": "...",
// "details": []}.
//
//   res.status = HttpStatusFromGrpcCode(status.error_code());
//   res.set_content(ErrorBody(status.error_code(), status.error_message()), "application/json");
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "grpcpp/support/status.h"

namespace hive::server {

// 499 is nginx's "client closed request", as grpc-gateway uses it for CANCELLED.
inline int HttpStatusFromGrpcCode(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::CANCELLED:
      return 499;
    case grpc::StatusCode::UNKNOWN:
      return 500;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return 400;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
      return 409;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::FAILED_PRECONDITION:
      // grpc-gateway: "Note, this deliberately doesn't translate to the
      // similarly named '412 Precondition Failed' HTTP response status."
      return 400;
    case grpc::StatusCode::ABORTED:
      return 409;
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::UNIMPLEMENTED:
      return 501;
    case grpc::StatusCode::INTERNAL:
      return 500;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    case grpc::StatusCode::DATA_LOSS:
    default:  // not a code gRPC defines
      return 500;
  }
}

// {"code":3,"message":"...","details":[]}, the message JSON-escaped.
std::string ErrorBody(grpc::StatusCode code, absl::string_view message);

}  // namespace hive::server

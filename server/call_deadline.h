// server/call_deadline.h
// The deadline a call works against: the caller's gRPC deadline, or
// now + `fallback` when the caller set none.
#pragma once

#include <chrono>

#include "absl/time/time.h"
#include "grpcpp/server_context.h"

namespace hive::server {

inline absl::Time CallDeadline(const grpc::CallbackServerContext& context, absl::Time now, absl::Duration fallback) {
  const auto deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return now + fallback;
  return absl::FromChrono(deadline);
}

}  // namespace hive::server

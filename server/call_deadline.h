// server/call_deadline.h
// The deadlines a call works against:
//
//   const absl::Time call = CallDeadline(*context, now, default_timeout);
//   const absl::Time wait = WaitDeadline(now, call);  // our own waits end here
//
// CallDeadline is the caller's gRPC deadline, or now + `fallback` when the
// caller set none. WaitDeadline is a little before it, so that our own
// answer (which wait ran out) reaches the caller before gRPC's bare
// DEADLINE_EXCEEDED does; it is never after the call's deadline, even when
// that has passed already.
#pragma once

#include <algorithm>
#include <chrono>

#include "absl/time/time.h"
#include "grpcpp/server_context.h"

namespace hive::server {

inline absl::Time CallDeadline(const grpc::CallbackServerContext& context, absl::Time now, absl::Duration fallback) {
  const auto deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return now + fallback;
  return absl::FromChrono(deadline);
}

// A twentieth of the time left, at most 50 ms, taken off the call's
// deadline; nothing when no time is left (a negative margin would move the
// wait past the deadline).
inline absl::Time WaitDeadline(absl::Time now, absl::Time call_deadline) {
  const absl::Duration budget = call_deadline - now;
  if (budget <= absl::ZeroDuration()) return call_deadline;
  return call_deadline - std::min(absl::Milliseconds(50), budget / 20);
}

}  // namespace hive::server

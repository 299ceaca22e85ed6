// server/request_audit.h
// The audit trail of commands sent to devices: one log line
// (event=device_request) for every SendDeviceRequest call, whatever its end,
// saying who asked what of which device and what came of it. Never the
// command's payload, which may hold secrets (storage API keys, tokens).
//
//   AuditDeviceRequest(request, outcome, grant, took, trace.trace_id);
//   → ... event=device_request request=R device=D account=A command=scheduler_action
//         caller=ops-backend status=acked latency_ms=3.2 trace=4bf92f35...
//   → ... event=device_request request=R device=D command=raw caller=- code=NOT_FOUND
//         error="device ... is not connected" latency_ms=0.1 trace=4bf92f35...
#pragma once

#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bridge/auth/backend_policy.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive::server {

// Logs at info level. `grant` is the caller's, when a backend policy is
// configured (caller "-" without one). `trace_id` is the call's trace
// (bridge/trace_context.h).
void AuditDeviceRequest(const hive::bridge::v1::SendDeviceRequestRequest& request,
                        const absl::StatusOr<hive::bridge::v1::SendDeviceRequestResponse>& outcome,
                        const std::optional<BackendGrant>& grant, absl::Duration took, absl::string_view trace_id);

}  // namespace hive::server

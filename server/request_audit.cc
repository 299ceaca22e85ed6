#include "server/request_audit.h"

#include <string>

#include "absl/strings/str_format.h"
#include "bridge/log.h"
#include "server/request_labels.h"

namespace hive::server {

void AuditDeviceRequest(const hive::bridge::v1::SendDeviceRequestRequest& request,
                        const absl::StatusOr<hive::bridge::v1::SendDeviceRequestResponse>& outcome,
                        const std::optional<BackendGrant>& grant, absl::Duration took, absl::string_view trace_id) {
  const std::string command = CommandKindName(request.command().kind_case());
  const std::string latency = absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(took));
  const absl::string_view caller = grant.has_value() ? absl::string_view(grant->caller()) : "-";
  if (outcome.ok()) {
    const std::string status = RequestStatusName(outcome->status());
    Log(LogLevel::kInfo, "device_request",
        {{"request", outcome->request_id()},
         {"device", request.device_id()},
         {"account", request.account_id()},
         {"command", command},
         {"caller", caller},
         {"status", status},
         {"latency_ms", latency},
         {"trace", trace_id}});
    return;
  }
  Log(LogLevel::kInfo, "device_request",
      {{"request", request.request_id()},
       {"device", request.device_id()},
       {"account", request.account_id()},
       {"command", command},
       {"caller", caller},
       {"code", absl::StatusCodeToString(outcome.status().code())},
       {"error", outcome.status().message()},
       {"latency_ms", latency},
       {"trace", trace_id}});
}

}  // namespace hive::server

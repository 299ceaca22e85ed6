#include "server/request_audit.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "bridge/log.h"

namespace hive::server {
namespace {

using hive::bridge::v1::Command;

std::string CommandName(const Command& command) {
  if (command.kind_case() == Command::KIND_NOT_SET) return "none";
  return Command::descriptor()->FindFieldByNumber(static_cast<int>(command.kind_case()))->name();
}

}  // namespace

void AuditDeviceRequest(const hive::bridge::v1::SendDeviceRequestRequest& request,
                        const absl::StatusOr<hive::bridge::v1::SendDeviceRequestResponse>& outcome,
                        const std::optional<BackendGrant>& grant, absl::Duration took) {
  const std::string command = CommandName(request.command());
  const std::string latency = absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(took));
  const absl::string_view caller = grant.has_value() ? absl::string_view(grant->caller()) : "-";
  if (outcome.ok()) {
    const std::string status = absl::AsciiStrToLower(
        absl::StripPrefix(hive::bridge::v1::RequestStatus_Name(outcome->status()), "REQUEST_STATUS_"));
    Log(LogLevel::kInfo, "device_request",
        {{"request", outcome->request_id()},
         {"device", request.device_id()},
         {"account", request.account_id()},
         {"command", command},
         {"caller", caller},
         {"status", status},
         {"latency_ms", latency}});
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
       {"latency_ms", latency}});
}

}  // namespace hive::server

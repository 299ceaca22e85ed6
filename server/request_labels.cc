#include "server/request_labels.h"

#include "absl/strings/ascii.h"
#include "absl/strings/strip.h"

namespace hive::server {

using hive::bridge::v1::Command;

std::string CommandKindName(Command::KindCase kind) {
  if (kind == Command::KIND_NOT_SET) return "none";
  return Command::descriptor()->FindFieldByNumber(static_cast<int>(kind))->name();
}

std::string RequestStatusName(hive::bridge::v1::RequestStatus status) {
  return absl::AsciiStrToLower(absl::StripPrefix(hive::bridge::v1::RequestStatus_Name(status), "REQUEST_STATUS_"));
}

}  // namespace hive::server

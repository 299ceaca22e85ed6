#include "bridge/auth/auth_failure.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/types/optional.h"

namespace hive {
namespace {

// absl::Status payloads are keyed by a type URL.
constexpr absl::string_view kPayloadUrl = "type.hivebridge.dev/hive.AuthFailure";

}  // namespace

absl::Status AuthError(AuthFailure reason, absl::string_view message) {
  absl::Status status = absl::UnauthenticatedError(message);
  status.SetPayload(kPayloadUrl, absl::Cord(AuthFailureName(reason)));
  return status;
}

AuthFailure AuthFailureOf(const absl::Status& status) {
  const absl::optional<absl::Cord> payload = status.GetPayload(kPayloadUrl);
  if (!payload.has_value()) return AuthFailure::kOther;
  for (size_t i = 0; i < kAuthFailureNames.size(); ++i) {
    if (*payload == kAuthFailureNames[i]) return static_cast<AuthFailure>(i);
  }
  return AuthFailure::kOther;
}

}  // namespace hive

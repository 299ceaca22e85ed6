// bridge/auth/auth_failure.h
// Why a device's authentication failed, as a small fixed set that /metrics
// can count by (hivebridge_device_auth_failures_total{reason}) without a
// device being able to invent label values: a fleet whose signing key was
// rotated shows as a wall of `signature`, one whose clocks drift as
// `expired` or `not_yet_valid`. The authenticator attaches the reason to its
// UNAUTHENTICATED status as a payload; the message stays the text the
// device is told.
//
//   return AuthError(AuthFailure::kExpired, "token expired at ...");
//   AuthFailure why = AuthFailureOf(status);   // kOther without a payload
#pragma once

#include <array>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace hive {

enum class AuthFailure {
  kMissing,      // no token within --auth-timeout, or a first frame that is not "Bearer TOKEN"
  kMalformed,    // not a compact JWS, too long, or undecodable
  kAlgorithm,    // unsigned (alg none) or signed with another algorithm than the bridge's
  kSignature,    // the signature does not verify with the bridge's key
  kExpired,      // exp passed (leeway included) or missing
  kNotYetValid,  // nbf is in the future
  kClaims,       // sub/account missing or not UUIDs, or a refresh for another identity
  kOther,        // anything else
};

inline constexpr std::array<absl::string_view, 8> kAuthFailureNames = {
    "missing", "malformed", "algorithm", "signature", "expired", "not_yet_valid", "claims", "other"};

inline absl::string_view AuthFailureName(AuthFailure reason) { return kAuthFailureNames[static_cast<size_t>(reason)]; }

// UNAUTHENTICATED with `message`, carrying `reason`.
absl::Status AuthError(AuthFailure reason, absl::string_view message);

// The reason AuthError attached; kOther for any other status.
AuthFailure AuthFailureOf(const absl::Status& status);

}  // namespace hive

// bridge/auth/device_authenticator.h
// The seam between a connection in quarantine and the proof of who it is: a
// session hands over the bearer token it received and gets the device's
// identity back, or UNAUTHENTICATED with a reason that is safe to log (it
// never contains the token). JwtAuthenticator is the implementation; tests of
// the session substitute their own. A session calls it again for every
// token refresh ("Bearer <JWT>" while authenticated) and closes the
// connection at the identity's valid_until.
//
//   absl::StatusOr<DeviceIdentity> identity = authenticator.Authenticate(token);
//   if (!identity.ok()) { /* close with 4401 */ }
#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bridge/auth/device_identity.h"

namespace hive {

class DeviceAuthenticator {
 public:
  virtual ~DeviceAuthenticator() = default;

  // Checks `token` and returns the identity it proves. Thread-safe: called
  // concurrently from WebSocket I/O threads, so it must not block.
  virtual absl::StatusOr<DeviceIdentity> Authenticate(absl::string_view token) const = 0;
};

}  // namespace hive

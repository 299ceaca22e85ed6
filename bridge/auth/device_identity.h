// bridge/auth/device_identity.h
// Who a WebSocket connection speaks for, as proven by its token, and until
// when. The session stamps these ids on every event the device sends, so a
// device cannot speak for another, and closes the connection (4401 "token
// expired") at valid_until unless the device has refreshed its token.
#pragma once

#include <string>

#include "absl/time/time.h"

namespace hive {

struct DeviceIdentity {
  std::string device_id;   // lowercase UUID, from the token's `sub`
  std::string account_id;  // lowercase UUID, from the token's `account` claim
  absl::Time expires_at;   // the token's `exp`
  // From this instant on the authenticator refuses the token: `exp` plus its
  // leeway for clock skew. InfiniteFuture for a token that never expires
  // (JwtAuthenticator accepts none: `exp` is required).
  absl::Time valid_until = absl::InfiniteFuture();
};

}  // namespace hive

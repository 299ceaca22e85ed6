// bridge/auth/device_identity.h
// Who a WebSocket connection speaks for, as proven by its token. The session
// stamps these ids on every event the device sends, so a device cannot speak
// for another.
#pragma once

#include <string>

#include "absl/time/time.h"

namespace hive {

struct DeviceIdentity {
  std::string device_id;   // lowercase UUID, from the token's `sub`
  std::string account_id;  // lowercase UUID, from the token's `account` claim
  absl::Time expires_at;   // the token's `exp`
};

}  // namespace hive

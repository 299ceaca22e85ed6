// bridge/auth/token_minter.h
// Mints the HS256 device tokens the bridge accepts (docs/protocol.md §2):
// claims sub = device UUID, account = account UUID, exp = now + ttl. A
// reconnect mints afresh, so a run longer than the ttl keeps authenticating.
// Thread-safe: Mint() shares nothing between calls.
//
//   absl::StatusOr<TokenMinter> minter = TokenMinter::FromSecretFile(path, absl::Hours(1), clock);
//   absl::StatusOr<std::string> token = minter->Mint(device_id, account_id);
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bridge/clock.h"

namespace hive {

class TokenMinter {
 public:
  // `clock` must outlive the minter.
  TokenMinter(std::string secret, absl::Duration ttl, const Clock& clock);

  // Reads the secret as the bridge does: the file's bytes without trailing
  // newlines. INVALID_ARGUMENT when it cannot be read or is empty.
  static absl::StatusOr<TokenMinter> FromSecretFile(const std::string& path, absl::Duration ttl,
                                                    const Clock& clock);

  // A compact JWT for the device; INTERNAL when libjwt refuses.
  absl::StatusOr<std::string> Mint(absl::string_view device_id, absl::string_view account_id) const;

 private:
  std::string secret_;
  absl::Duration ttl_;
  const Clock* clock_;
};

}  // namespace hive

// bridge/auth/token_minter.h
// Mints the device tokens the bridge accepts (docs/protocol.md §2): claims
// sub = device UUID, account = account UUID, exp = now + ttl, signed with the
// key the bridge checks them with — HS256 with its --jwt-secret-file, or the
// private half of its --jwt-public-key-file (RS256 for RSA, ES256 for EC
// P-256). A reconnect mints afresh, so a run longer than the ttl keeps
// authenticating. Thread-safe: Mint() shares nothing between calls. Used by
// hive-device-sim and `hivectl token`.
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
  enum class Algorithm { kHs256, kRs256, kEs256 };

  // HS256 with `secret`. `clock` must outlive the minter.
  TokenMinter(std::string secret, absl::Duration ttl, const Clock& clock);

  // Reads the secret as the bridge does: the file's bytes without trailing
  // newlines. INVALID_ARGUMENT when it cannot be read or is empty.
  static absl::StatusOr<TokenMinter> FromSecretFile(const std::string& path, absl::Duration ttl, const Clock& clock);

  // RS256 or ES256 with a PEM private key (RSA of 2048 bits or more, or EC
  // on P-256, as the bridge's public key must be). INVALID_ARGUMENT naming
  // --jwt-private-key-file and the path otherwise.
  static absl::StatusOr<TokenMinter> FromPrivateKeyFile(const std::string& path, absl::Duration ttl,
                                                        const Clock& clock);

  Algorithm algorithm() const { return algorithm_; }

  // A compact JWT for the device; INTERNAL when libjwt refuses.
  absl::StatusOr<std::string> Mint(absl::string_view device_id, absl::string_view account_id) const;

 private:
  TokenMinter(Algorithm algorithm, std::string key, absl::Duration ttl, const Clock& clock);

  Algorithm algorithm_;
  std::string key_;  // the HS256 secret, or the private key PEM
  absl::Duration ttl_;
  const Clock* clock_;
};

}  // namespace hive

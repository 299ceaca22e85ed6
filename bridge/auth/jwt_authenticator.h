// bridge/auth/jwt_authenticator.h
// Authenticates devices by JSON Web Token (RFC 7519) in compact form. The
// token's `sub` is the device UUID and its `account` claim the account UUID;
// `exp` is required and `nbf` honoured when present, both with a leeway for
// clock skew. Exactly one algorithm is accepted, fixed by the key it is built
// with, so a token cannot choose how it is checked ("none", or HS256 keyed
// with the public key's bytes, are rejected):
//
//   shared secret              -> HS256
//   RSA public key (PEM)       -> RS256
//   EC P-256 public key (PEM)  -> ES256
//
//   absl::StatusOr<std::unique_ptr<JwtAuthenticator>> auth =
//       JwtAuthenticator::FromHs256Secret(secret, clock);
//   if (!auth.ok()) return auth.status();  // bad key material: stop start-up
//   absl::StatusOr<DeviceIdentity> identity = (*auth)->Authenticate(token);
//
// Authenticate() fails with UNAUTHENTICATED and a message naming the rule the
// token broke; messages never quote the token. Thread-safe and non-blocking.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bridge/auth/device_authenticator.h"
#include "bridge/auth/device_identity.h"
#include "bridge/clock.h"

namespace hive {

struct JwtAuthenticatorOptions {
  // Clock skew tolerated between the token issuer and this host: a token is
  // accepted until exp + leeway (DeviceIdentity::valid_until, when a session
  // on it closes) and from nbf - leeway. --token-leeway.
  absl::Duration leeway = absl::Seconds(30);
};

class JwtAuthenticator final : public DeviceAuthenticator {
 public:
  // HS256 with a shared secret, used byte for byte (strip a trailing newline
  // read from a file before passing it). RFC 7518 §3.2 asks for at least as
  // many bytes as the hash output, so a secret under 32 bytes is rejected.
  static absl::StatusOr<std::unique_ptr<JwtAuthenticator>> FromHs256Secret(std::string secret, const Clock& clock,
                                                                           JwtAuthenticatorOptions options = {});

  // RS256 for an RSA key (2048 bits or more), ES256 for an EC key on P-256,
  // from a "-----BEGIN PUBLIC KEY-----" PEM. Other key types are rejected.
  static absl::StatusOr<std::unique_ptr<JwtAuthenticator>> FromPublicKeyPem(std::string pem, const Clock& clock,
                                                                            JwtAuthenticatorOptions options = {});

  absl::StatusOr<DeviceIdentity> Authenticate(absl::string_view token) const override;

  // The one accepted algorithm: "HS256", "RS256" or "ES256".
  absl::string_view algorithm() const { return algorithm_; }

 private:
  JwtAuthenticator(absl::string_view algorithm, std::string key, const Clock& clock, JwtAuthenticatorOptions options);

  absl::string_view algorithm_;  // a static string
  std::string key_;              // the secret, or the PEM as libjwt reads it
  const Clock& clock_;
  JwtAuthenticatorOptions options_;
};

}  // namespace hive

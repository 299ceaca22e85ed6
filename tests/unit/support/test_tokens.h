// tests/unit/support/test_tokens.h
// Mints JSON Web Tokens for tests, with libjwt itself, so a test states the
// claims it cares about and gets a compact token back.
//
//   std::string token = MintHs256(kSecret, kDevice, kAccount, clock.Now() + absl::Hours(1));
//
//   TestClaims claims;
//   claims.sub = kDevice;
//   claims.extra_json = R"({"exp": "soon"})";
//   std::string odd = MintToken("RS256", RsaTestKey().private_pem, claims);
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace hive::testing {

// The payload of a test token. Unset claims are left out of it.
struct TestClaims {
  std::optional<std::string> sub;
  std::optional<std::string> account;
  std::optional<absl::Time> exp;  // whole seconds
  std::optional<absl::Time> nbf;  // whole seconds
  // A JSON object whose members are added as they are, for claims of odd
  // types: R"({"exp": "tomorrow"})". Empty for none.
  std::string extra_json;
};

// A token signed with `alg` ("HS256", "RS256", "ES256", "none", ...) and `key`:
// the secret for HMAC, the private key PEM for RSA and EC, ignored for none.
// Aborts when libjwt refuses, as a test cannot go on without its token.
std::string MintToken(absl::string_view alg, absl::string_view key, const TestClaims& claims);

// A valid-looking HS256 device token.
std::string MintHs256(absl::string_view secret, absl::string_view device, absl::string_view account, absl::Time exp);

}  // namespace hive::testing

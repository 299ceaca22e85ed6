// fuzz/bearer_auth_fuzzer.cc
// Fuzzes what a connection in quarantine runs on its first text message:
// hive::codec::ParseBearerCredential ("Bearer TOKEN", the Hivekit auth
// message and the Authorization header alike), then JwtAuthenticator on the
// token. The input is the message itself; an input that is not a bearer
// credential goes to the authenticators as a bare token, so the JWT path sees
// arbitrary bytes too. Two authenticators check each token, on a fixed clock:
// HS256 with the fuzz secret and ES256 with a key generated at start-up.
//
// Checks:
//  - a parsed credential is "Bearer " (any case) + a token of b64token
//    characters, exactly the rest of the message;
//  - a refusal is UNAUTHENTICATED with a UTF-8 message that never quotes
//    the token (docs/SECURITY.md#threats-and-mitigations: no tokens in logs);
//  - an accepted token yields lowercase canonical UUIDs and an expiry not
//    yet past (with the leeway).
// Random bytes rarely carry a valid signature; jwt_claims_fuzzer signs what
// it mutates, to reach the claim checks.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "bridge/auth/jwt_authenticator.h"
#include "bridge/codec/bearer_credential.h"
#include "bridge/log.h"
#include "bridge/uuid.h"
#include "fuzz/fuzz_support.h"
#include "tests/unit/support/fake_clock.h"
#include "tests/unit/support/test_keys.h"

namespace hive::fuzz {
namespace {

struct Authenticators {
  testing::FakeClock clock{absl::FromUnixSeconds(kClockStart)};
  std::unique_ptr<JwtAuthenticator> hs256;
  std::unique_ptr<JwtAuthenticator> es256;
};

const Authenticators& Get() {
  static const Authenticators* const all = [] {
    auto* made = new Authenticators;
    auto hs256 = JwtAuthenticator::FromHs256Secret(std::string(kSecret), made->clock);
    auto es256 = JwtAuthenticator::FromPublicKeyPem(testing::EcTestKey().public_pem, made->clock);
    HIVE_FUZZ_CHECK(hs256.ok() && es256.ok(), "authenticators: ", hs256.status().ToString(), " ",
                    es256.status().ToString());
    made->hs256 = *std::move(hs256);
    made->es256 = *std::move(es256);
    return made;
  }();
  return *all;
}

bool IsB64TokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == '~' ||
         c == '+' || c == '/' || c == '=';
}

void CheckCredential(absl::string_view message, absl::string_view token) {
  HIVE_FUZZ_CHECK(absl::StartsWithIgnoreCase(message, "Bearer "), "accepted without the scheme");
  HIVE_FUZZ_CHECK(message.size() == 7 + token.size() && message.substr(7) == token,
                  "the token is not the rest of the message");
  HIVE_FUZZ_CHECK(!token.empty(), "accepted an empty token");
  for (char c : token) HIVE_FUZZ_CHECK(IsB64TokenChar(c), "accepted a token with character ", int{c});
  const size_t first_pad = token.find('=');
  HIVE_FUZZ_CHECK(first_pad == absl::string_view::npos ||
                      (first_pad > 0 && token.find_first_not_of('=', first_pad) == absl::string_view::npos),
                  "'=' is allowed only as trailing padding");
}

void CheckAuthentication(const JwtAuthenticator& authenticator, absl::string_view token, absl::Time now) {
  absl::StatusOr<DeviceIdentity> identity = authenticator.Authenticate(token);
  if (!identity.ok()) {
    const absl::Status& status = identity.status();
    HIVE_FUZZ_CHECK(status.code() == absl::StatusCode::kUnauthenticated, "refused with ", status.ToString());
    HIVE_FUZZ_CHECK(!status.message().empty() && IsValidUtf8(status.message()), "bad refusal message");
    // (A JWT has dots; no refusal message does, so none can equal one.)
    HIVE_FUZZ_CHECK(!absl::StrContains(token, '.') || !absl::StrContains(status.message(), token),
                    "the refusal quotes the token: ", status.message());
    return;
  }
  for (const std::string* id : {&identity->device_id, &identity->account_id}) {
    HIVE_FUZZ_CHECK(IsUuid(*id) && *id == absl::AsciiStrToLower(*id), "identity id is not a lowercase UUID: ", *id);
  }
  HIVE_FUZZ_CHECK(identity->expires_at + absl::Seconds(30) > now, "accepted an expired token");
  HIVE_FUZZ_CHECK(identity->valid_until == identity->expires_at + absl::Seconds(30),
                  "valid_until is not exp + the leeway");
}

}  // namespace
}  // namespace hive::fuzz

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  hive::SetLogLevel(hive::LogLevel::kError);
  hive::fuzz::Get();  // key generation is not the input's cost
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hive::fuzz;  // NOLINT: the entry point is outside the namespace
  const absl::string_view message(reinterpret_cast<const char*>(data), size);
  std::optional<absl::string_view> token = hive::codec::ParseBearerCredential(message);
  if (token.has_value()) CheckCredential(message, *token);
  const absl::string_view checked = token.value_or(message);
  const Authenticators& auth = Get();
  CheckAuthentication(*auth.hs256, checked, auth.clock.Now());
  CheckAuthentication(*auth.es256, checked, auth.clock.Now());
  return 0;
}

// fuzz/jwt_claims_fuzzer.cc
// Structured fuzzing of JwtAuthenticator: the input is a token's header and
// claims as JSON text, which this target encodes and signs, so mutations of a
// valid token's segments get past the signature to the claim checks (exp,
// nbf, sub, account) and the algorithm pinning.
//
// Input: a flags byte, then HEADER 0xFF CLAIMS (0xFF never occurs in UTF-8
// text); without 0xFF, all of it is CLAIMS under {"alg":"HS256","typ":"JWT"}.
// Flags bits 0-1 choose how the token is signed and who checks it:
//   0, 1  HMAC-SHA256 with the fuzz secret, checked by the HS256 authenticator
//   2     HMAC-SHA256 keyed with the ES256 authenticator's public key PEM,
//         checked by that authenticator: the algorithm-confusion attack,
//         which must always be refused
//   3     HMAC-SHA256 with another secret: must always be refused
//
// An accepted token must yield what its claims say, read independently with
// RapidJSON: `sub` and `account` as lowercase UUIDs, `exp` as the expiry, not
// past; `nbf`, when present, not in the future (both with the 30 s leeway);
// and a header whose `alg` is HS256.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "bridge/auth/jwt_authenticator.h"
#include "bridge/codec/json_document.h"
#include "bridge/log.h"
#include "bridge/uuid.h"
#include "fuzz/fuzz_support.h"
#include "rapidjson/document.h"
#include "tests/unit/support/fake_clock.h"
#include "tests/unit/support/test_keys.h"

namespace hive::fuzz {
namespace {

constexpr absl::string_view kDefaultHeader = R"({"alg":"HS256","typ":"JWT"})";
constexpr absl::string_view kWrongSecret = "not-the-fuzz-secret-but-32-bytes-long!!";
constexpr absl::Duration kLeeway = absl::Seconds(30);

struct Authenticators {
  testing::FakeClock clock{absl::FromUnixSeconds(kClockStart)};
  std::string es256_pem;
  std::unique_ptr<JwtAuthenticator> hs256;
  std::unique_ptr<JwtAuthenticator> es256;
};

const Authenticators& Get() {
  static const Authenticators* const all = [] {
    auto* made = new Authenticators;
    made->es256_pem = testing::EcTestKey().public_pem;
    auto hs256 = JwtAuthenticator::FromHs256Secret(std::string(kSecret), made->clock);
    auto es256 = JwtAuthenticator::FromPublicKeyPem(made->es256_pem, made->clock);
    HIVE_FUZZ_CHECK(hs256.ok() && es256.ok(), "authenticators");
    made->hs256 = *std::move(hs256);
    made->es256 = *std::move(es256);
    return made;
  }();
  return *all;
}

std::string Base64Url(absl::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (unsigned char c : bytes) {
    bits = (bits << 8) | c;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out += kAlphabet[(bits >> count) & 0x3F];
    }
  }
  if (count > 0) out += kAlphabet[(bits << (6 - count)) & 0x3F];
  return out;
}

std::string SignedToken(absl::string_view header, absl::string_view claims, absl::string_view key) {
  const std::string signing_input = absl::StrCat(Base64Url(header), ".", Base64Url(claims));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  HIVE_FUZZ_CHECK(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac,
                       &mac_size) != nullptr,
                  "HMAC failed");
  return absl::StrCat(signing_input, ".", Base64Url(absl::string_view(reinterpret_cast<const char*>(mac), mac_size)));
}

// The JSON object `text` holds, when the codec's parser (full precision)
// reads one without duplicate keys; what libjwt's JSON parser makes of other
// text is its own business.
bool ReadObject(absl::string_view text, rapidjson::Document& doc) {
  return codec::ParseJson(text, codec::ParseLimits{}, doc).ok() && doc.IsObject() &&
         !codec::FindDuplicateKey(doc).has_value();
}

void CheckAccepted(const DeviceIdentity& identity, absl::string_view header, absl::string_view claims, absl::Time now) {
  for (const std::string* id : {&identity.device_id, &identity.account_id}) {
    HIVE_FUZZ_CHECK(IsUuid(*id) && *id == absl::AsciiStrToLower(*id), "identity id is not a lowercase UUID: ", *id);
  }
  HIVE_FUZZ_CHECK(identity.expires_at + kLeeway > now, "accepted an expired token");
  // A session on the token closes at valid_until: exactly where Authenticate starts refusing it.
  HIVE_FUZZ_CHECK(identity.valid_until == identity.expires_at + kLeeway, "valid_until is not exp + the leeway");

  rapidjson::Document header_doc;
  if (ReadObject(header, header_doc)) {
    const rapidjson::Value* alg = codec::FindMember(header_doc, "alg");
    HIVE_FUZZ_CHECK(alg != nullptr && alg->IsString() && codec::ViewOf(*alg) == "HS256",
                    "accepted a token whose header does not say HS256: ", header);
  }
  rapidjson::Document doc;
  if (!ReadObject(claims, doc)) return;
  for (auto [name, id] : {std::pair{"sub", &identity.device_id}, std::pair{"account", &identity.account_id}}) {
    const rapidjson::Value* claim = codec::FindMember(doc, name);
    HIVE_FUZZ_CHECK(claim != nullptr && claim->IsString() && CanonicalUuid(codec::ViewOf(*claim)) == *id,
                    "identity differs from the `", name, "` claim: ", claims);
  }
  const rapidjson::Value* exp = codec::FindMember(doc, "exp");
  HIVE_FUZZ_CHECK(exp != nullptr && exp->IsNumber(), "accepted a token whose exp is not a number: ", claims);
  HIVE_FUZZ_CHECK(identity.expires_at == absl::UnixEpoch() + absl::Seconds(exp->GetDouble()),
                  "expires_at differs from the exp claim: ", claims);
  if (const rapidjson::Value* nbf = codec::FindMember(doc, "nbf")) {
    HIVE_FUZZ_CHECK(nbf->IsNumber(), "accepted a token whose nbf is not a number: ", claims);
    HIVE_FUZZ_CHECK(absl::UnixEpoch() + absl::Seconds(nbf->GetDouble()) - kLeeway <= now,
                    "accepted a token before its nbf: ", claims);
  }
}

}  // namespace
}  // namespace hive::fuzz

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  hive::SetLogLevel(hive::LogLevel::kError);
  hive::fuzz::Get();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hive::fuzz;  // NOLINT: the entry point is outside the namespace
  FuzzInput in(data, size);
  absl::string_view header = kDefaultHeader;
  absl::string_view claims = in.text();
  if (const size_t split = claims.find('\xff'); split != absl::string_view::npos) {
    header = claims.substr(0, split);
    claims = claims.substr(split + 1);
  }
  const Authenticators& auth = Get();
  const int mode = in.flags() & 3;
  const hive::JwtAuthenticator& authenticator = mode == 2 ? *auth.es256 : *auth.hs256;
  const absl::string_view key = mode == 2 ? absl::string_view(auth.es256_pem) : mode == 3 ? kWrongSecret : kSecret;
  const std::string token = SignedToken(header, claims, key);

  absl::StatusOr<hive::DeviceIdentity> identity = authenticator.Authenticate(token);
  if (!identity.ok()) {
    HIVE_FUZZ_CHECK(identity.status().code() == absl::StatusCode::kUnauthenticated, "refused with ",
                    identity.status().ToString());
    HIVE_FUZZ_CHECK(IsValidUtf8(identity.status().message()), "refusal message is not UTF-8");
    return 0;
  }
  HIVE_FUZZ_CHECK(mode < 2, mode == 2 ? "accepted an HMAC token keyed with the ES256 public key"
                                      : "accepted a token signed with another secret");
  CheckAccepted(*identity, header, claims, auth.clock.Now());
  return 0;
}

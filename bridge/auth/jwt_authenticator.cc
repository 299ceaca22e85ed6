#include "bridge/auth/jwt_authenticator.h"

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "absl/memory/memory.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "bridge/auth/auth_failure.h"
#include "bridge/uuid.h"

namespace hive {
namespace {

constexpr size_t kMinHs256SecretBytes = 32;
constexpr int kMinRsaBits = 2048;
// Far above any real device token; keeps a hostile first frame from costing
// more than a little parsing.
constexpr size_t kMaxTokenBytes = 8192;

struct JwtFree {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;

struct MallocFree {
  void operator()(char* text) const { free(text); }
};
using MallocedText = std::unique_ptr<char, MallocFree>;

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

// Compact JWS: three base64url parts, the signature possibly empty. Checked
// before libjwt sees the token so that an embedded NUL or stray characters
// cannot make it parse a prefix or a lenient decoding of what was sent.
bool IsCompactJws(absl::string_view token) {
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3 || parts[0].empty() || parts[1].empty()) return false;
  for (absl::string_view part : parts) {
    for (char c : part) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    }
  }
  return true;
}

JwtPtr Decode(const std::string& token, const std::string* key) {
  jwt_t* jwt = nullptr;
  const auto* key_bytes = key ? reinterpret_cast<const unsigned char*>(key->data()) : nullptr;
  const int key_len = key ? static_cast<int>(key->size()) : 0;
  const int rc = jwt_decode(&jwt, token.c_str(), key_bytes, key_len);
  // A failed RSA/EC verification leaves errors on this thread's OpenSSL queue;
  // a later TLS call on the same I/O thread would mistake them for its own.
  ERR_clear_error();
  if (rc != 0) {
    jwt_free(jwt);
    return nullptr;
  }
  return JwtPtr(jwt);
}

// A NumericDate claim (RFC 7519 §2: seconds since the epoch, fractions
// allowed): nullopt when absent, an error when not a number.
absl::StatusOr<std::optional<absl::Time>> NumericDateClaim(jwt_t* jwt, const char* name) {
  // The claim's JSON text: a number stays a bare number, anything else
  // (a quoted string, true, an object) fails to parse as one.
  MallocedText json(jwt_get_grants_json(jwt, name));
  if (json == nullptr) return std::nullopt;
  double seconds = 0;
  if (!absl::SimpleAtod(json.get(), &seconds)) {
    return AuthError(AuthFailure::kClaims,
                     absl::StrCat("token claim ", name, " must be a number (seconds since the epoch)"));
  }
  return absl::UnixEpoch() + absl::Seconds(seconds);
}

// A claim that must hold a UUID; returned in lowercase.
absl::StatusOr<std::string> UuidClaim(jwt_t* jwt, const char* name, absl::string_view what) {
  // jwt_get_grant() is null for a claim that is absent or not a string.
  const char* value = jwt_get_grant(jwt, name);
  if (value == nullptr || !IsUuid(value)) {
    return AuthError(AuthFailure::kClaims, absl::StrCat("token claim ", name, " must be the ", what, " UUID"));
  }
  return absl::AsciiStrToLower(value);
}

std::string Rfc3339(absl::Time time) { return absl::FormatTime(absl::RFC3339_sec, time, absl::UTCTimeZone()); }

}  // namespace

JwtAuthenticator::JwtAuthenticator(absl::string_view algorithm, std::string key, const Clock& clock,
                                   JwtAuthenticatorOptions options)
    : algorithm_(algorithm), key_(std::move(key)), clock_(clock), options_(options) {}

absl::StatusOr<std::unique_ptr<JwtAuthenticator>> JwtAuthenticator::FromHs256Secret(std::string secret,
                                                                                    const Clock& clock,
                                                                                    JwtAuthenticatorOptions options) {
  if (secret.empty()) return absl::InvalidArgumentError("HS256 secret is empty");
  if (secret.size() < kMinHs256SecretBytes) {
    return absl::InvalidArgumentError(absl::StrCat("HS256 secret is ", secret.size(), " bytes; it must be at least ",
                                                   kMinHs256SecretBytes, " bytes"));
  }
  if (options.leeway < absl::ZeroDuration()) return absl::InvalidArgumentError("JWT leeway must not be negative");
  return absl::WrapUnique(new JwtAuthenticator("HS256", std::move(secret), clock, options));
}

absl::StatusOr<std::unique_ptr<JwtAuthenticator>> JwtAuthenticator::FromPublicKeyPem(std::string pem,
                                                                                     const Clock& clock,
                                                                                     JwtAuthenticatorOptions options) {
  if (options.leeway < absl::ZeroDuration()) return absl::InvalidArgumentError("JWT leeway must not be negative");
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::unique_ptr<EVP_PKEY, PkeyFree> key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  ERR_clear_error();  // a failed read leaves its reasons on this thread's queue
  if (key == nullptr) {
    return absl::InvalidArgumentError("public key is not a PEM public key (expected -----BEGIN PUBLIC KEY-----)");
  }
  switch (EVP_PKEY_get_base_id(key.get())) {
    case EVP_PKEY_RSA: {
      const int bits = EVP_PKEY_get_bits(key.get());
      if (bits < kMinRsaBits) {
        return absl::InvalidArgumentError(
            absl::StrCat("RSA public key has ", bits, " bits; RS256 needs at least ", kMinRsaBits));
      }
      return absl::WrapUnique(new JwtAuthenticator("RS256", std::move(pem), clock, options));
    }
    case EVP_PKEY_EC: {
      char curve[64] = {};
      const bool named =
          EVP_PKEY_get_utf8_string_param(key.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof(curve), nullptr) == 1;
      ERR_clear_error();
      if (!named || OBJ_sn2nid(curve) != NID_X9_62_prime256v1) {
        return absl::InvalidArgumentError(
            absl::StrCat("EC public key is on curve ", named ? curve : "(unnamed)", "; ES256 needs P-256"));
      }
      return absl::WrapUnique(new JwtAuthenticator("ES256", std::move(pem), clock, options));
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat("public key type ", EVP_PKEY_get0_type_name(key.get()),
                                                     " is not supported; use RSA (RS256) or EC P-256 (ES256)"));
  }
}

absl::StatusOr<DeviceIdentity> JwtAuthenticator::Authenticate(absl::string_view token) const {
  if (token.size() > kMaxTokenBytes) {
    return AuthError(AuthFailure::kMalformed, absl::StrCat("token is longer than ", kMaxTokenBytes, " bytes"));
  }
  if (!IsCompactJws(token)) return AuthError(AuthFailure::kMalformed, "token is not a well-formed JWT");
  const std::string text(token);  // libjwt wants a NUL-terminated string

  // The header is read before any key is applied: the algorithm is ours to
  // choose, and a token that names another one must never reach a
  // verification keyed with our material (an HS256 token "signed" with the
  // RSA public key's PEM would otherwise verify).
  JwtPtr unverified = Decode(text, nullptr);
  if (unverified == nullptr) return AuthError(AuthFailure::kMalformed, "token is not a well-formed JWT");
  const char* alg_name = jwt_get_header(unverified.get(), "alg");
  if (alg_name == nullptr) return AuthError(AuthFailure::kMalformed, "token is not a well-formed JWT");
  const jwt_alg_t alg = jwt_str_alg(alg_name);
  if (alg == JWT_ALG_NONE) return AuthError(AuthFailure::kAlgorithm, "token is unsigned (alg none)");
  // The canonical name, not the header's text: messages never quote the token.
  // libjwt already refuses to parse an unknown alg; null is guarded anyway.
  const char* canonical = jwt_alg_str(alg);
  // libjwt looks names up ignoring case, but RFC 7515 §4.1.1 names are
  // case-sensitive: "Hs256" names no algorithm at all.
  if (canonical != nullptr && std::strcmp(canonical, alg_name) != 0) canonical = nullptr;
  if (canonical == nullptr || canonical != algorithm_) {
    return AuthError(AuthFailure::kAlgorithm,
                     absl::StrCat("token is signed with ", canonical ? canonical : "an unknown algorithm", "; only ",
                                  algorithm_, " is accepted"));
  }

  JwtPtr jwt = Decode(text, &key_);
  if (jwt == nullptr) return AuthError(AuthFailure::kSignature, "token signature is invalid");

  const absl::Time now = clock_.Now();
  absl::StatusOr<std::optional<absl::Time>> expires_at = NumericDateClaim(jwt.get(), "exp");
  if (!expires_at.ok()) return expires_at.status();
  if (!expires_at->has_value()) return AuthError(AuthFailure::kExpired, "token claim exp is missing");
  if (**expires_at + options_.leeway <= now) {
    return AuthError(AuthFailure::kExpired, absl::StrCat("token expired at ", Rfc3339(**expires_at)));
  }
  absl::StatusOr<std::optional<absl::Time>> not_before = NumericDateClaim(jwt.get(), "nbf");
  if (!not_before.ok()) return not_before.status();
  if (not_before->has_value() && **not_before - options_.leeway > now) {
    return AuthError(AuthFailure::kNotYetValid, absl::StrCat("token is not valid before ", Rfc3339(**not_before)));
  }

  absl::StatusOr<std::string> device_id = UuidClaim(jwt.get(), "sub", "device");
  if (!device_id.ok()) return device_id.status();
  absl::StatusOr<std::string> account_id = UuidClaim(jwt.get(), "account", "account");
  if (!account_id.ok()) return account_id.status();
  return DeviceIdentity{*std::move(device_id), *std::move(account_id), **expires_at, **expires_at + options_.leeway};
}

}  // namespace hive

#include "bridge/auth/token_minter.h"

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace hive {
namespace {

struct JwtFree {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
struct MallocFree {
  void operator()(char* text) const { free(text); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

// Which algorithm the bridge would check a token signed with this key by,
// or why it would not take the key's public half.
absl::StatusOr<TokenMinter::Algorithm> AlgorithmOf(const std::string& pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::unique_ptr<EVP_PKEY, PkeyFree> key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                                              : nullptr);
  if (key == nullptr) return absl::InvalidArgumentError("not a PEM private key");
  switch (EVP_PKEY_get_base_id(key.get())) {
    case EVP_PKEY_RSA:
      if (EVP_PKEY_get_bits(key.get()) < 2048) return absl::InvalidArgumentError("an RSA key needs 2048 bits or more");
      return TokenMinter::Algorithm::kRs256;
    case EVP_PKEY_EC: {
      char curve[64] = {};
      const bool named =
          EVP_PKEY_get_utf8_string_param(key.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof(curve), nullptr) == 1;
      if (!named || OBJ_sn2nid(curve) != NID_X9_62_prime256v1) {
        return absl::InvalidArgumentError("an EC key must be on P-256 (ES256)");
      }
      return TokenMinter::Algorithm::kEs256;
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("key type ", EVP_PKEY_get0_type_name(key.get()), " is neither RSA nor EC"));
  }
}

jwt_alg_t JwtAlgorithm(TokenMinter::Algorithm algorithm) {
  switch (algorithm) {
    case TokenMinter::Algorithm::kRs256:
      return JWT_ALG_RS256;
    case TokenMinter::Algorithm::kEs256:
      return JWT_ALG_ES256;
    case TokenMinter::Algorithm::kHs256:
      break;
  }
  return JWT_ALG_HS256;
}

}  // namespace

TokenMinter::TokenMinter(std::string secret, absl::Duration ttl, const Clock& clock)
    : TokenMinter(Algorithm::kHs256, std::move(secret), ttl, clock) {}

TokenMinter::TokenMinter(Algorithm algorithm, std::string key, absl::Duration ttl, const Clock& clock)
    : algorithm_(algorithm), key_(std::move(key)), ttl_(ttl), clock_(&clock) {}

absl::StatusOr<TokenMinter> TokenMinter::FromSecretFile(const std::string& path, absl::Duration ttl,
                                                        const Clock& clock) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("--jwt-secret-file: cannot read ", path));
  std::ostringstream contents;
  contents << in.rdbuf();
  std::string secret = contents.str();
  // The bridge drops the newline that `echo` or `base64` leaves; so must we,
  // or no signature would match.
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) return absl::InvalidArgumentError(absl::StrCat("--jwt-secret-file: ", path, " is empty"));
  return TokenMinter(std::move(secret), ttl, clock);
}

absl::StatusOr<TokenMinter> TokenMinter::FromPrivateKeyFile(const std::string& path, absl::Duration ttl,
                                                            const Clock& clock) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("--jwt-private-key-file: cannot read ", path));
  std::ostringstream contents;
  contents << in.rdbuf();
  std::string pem = contents.str();
  absl::StatusOr<Algorithm> algorithm = AlgorithmOf(pem);
  if (!algorithm.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--jwt-private-key-file: ", path, ": ", algorithm.status().message()));
  }
  return TokenMinter(*algorithm, std::move(pem), ttl, clock);
}

absl::StatusOr<std::string> TokenMinter::Mint(absl::string_view device_id, absl::string_view account_id) const {
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return absl::InternalError("jwt_new failed");
  std::unique_ptr<jwt_t, JwtFree> jwt(raw);
  const std::string sub(device_id);
  const std::string account(account_id);
  const bool ok = jwt_add_grant(jwt.get(), "sub", sub.c_str()) == 0 &&
                  jwt_add_grant(jwt.get(), "account", account.c_str()) == 0 &&
                  jwt_add_grant_int(jwt.get(), "exp", absl::ToUnixSeconds(clock_->Now() + ttl_)) == 0 &&
                  jwt_set_alg(jwt.get(), JwtAlgorithm(algorithm_), reinterpret_cast<const unsigned char*>(key_.data()),
                              static_cast<int>(key_.size())) == 0;
  if (!ok) return absl::InternalError("libjwt refused the device token's claims or key");
  std::unique_ptr<char, MallocFree> token(jwt_encode_str(jwt.get()));
  if (token == nullptr) return absl::InternalError("jwt_encode_str failed");
  return std::string(token.get());
}

}  // namespace hive

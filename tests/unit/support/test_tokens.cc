#include "tests/unit/support/test_tokens.h"

#include <jwt.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace hive::testing {
namespace {

struct JwtFree {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
struct MallocFree {
  void operator()(char* text) const { free(text); }
};

void Check(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "minting a test token failed: %s\n", what);
    abort();
  }
}

}  // namespace

std::string MintToken(absl::string_view alg, absl::string_view key, const TestClaims& claims) {
  jwt_t* raw = nullptr;
  Check(jwt_new(&raw) == 0, "jwt_new");
  std::unique_ptr<jwt_t, JwtFree> jwt(raw);
  if (claims.sub) Check(jwt_add_grant(jwt.get(), "sub", claims.sub->c_str()) == 0, "sub");
  if (claims.account) Check(jwt_add_grant(jwt.get(), "account", claims.account->c_str()) == 0, "account");
  if (claims.exp) Check(jwt_add_grant_int(jwt.get(), "exp", absl::ToUnixSeconds(*claims.exp)) == 0, "exp");
  if (claims.nbf) Check(jwt_add_grant_int(jwt.get(), "nbf", absl::ToUnixSeconds(*claims.nbf)) == 0, "nbf");
  if (!claims.extra_json.empty()) Check(jwt_add_grants_json(jwt.get(), claims.extra_json.c_str()) == 0, "extra_json");

  const jwt_alg_t algorithm = jwt_str_alg(std::string(alg).c_str());
  Check(algorithm != JWT_ALG_INVAL, "unknown alg");
  const auto* key_bytes = algorithm == JWT_ALG_NONE ? nullptr : reinterpret_cast<const unsigned char*>(key.data());
  const int key_len = algorithm == JWT_ALG_NONE ? 0 : static_cast<int>(key.size());
  Check(jwt_set_alg(jwt.get(), algorithm, key_bytes, key_len) == 0, "jwt_set_alg");

  std::unique_ptr<char, MallocFree> token(jwt_encode_str(jwt.get()));
  Check(token != nullptr, "jwt_encode_str");
  return std::string(token.get());
}

std::string MintHs256(absl::string_view secret, absl::string_view device, absl::string_view account, absl::Time exp) {
  TestClaims claims;
  claims.sub = std::string(device);
  claims.account = std::string(account);
  claims.exp = exp;
  return MintToken("HS256", secret, claims);
}

}  // namespace hive::testing

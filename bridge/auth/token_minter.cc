#include "bridge/auth/token_minter.h"

#include <jwt.h>

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

}  // namespace

TokenMinter::TokenMinter(std::string secret, absl::Duration ttl, const Clock& clock)
    : secret_(std::move(secret)), ttl_(ttl), clock_(&clock) {}

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

absl::StatusOr<std::string> TokenMinter::Mint(absl::string_view device_id, absl::string_view account_id) const {
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return absl::InternalError("jwt_new failed");
  std::unique_ptr<jwt_t, JwtFree> jwt(raw);
  const std::string sub(device_id);
  const std::string account(account_id);
  const bool ok =
      jwt_add_grant(jwt.get(), "sub", sub.c_str()) == 0 &&
      jwt_add_grant(jwt.get(), "account", account.c_str()) == 0 &&
      jwt_add_grant_int(jwt.get(), "exp", absl::ToUnixSeconds(clock_->Now() + ttl_)) == 0 &&
      jwt_set_alg(jwt.get(), JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(secret_.data()),
                  static_cast<int>(secret_.size())) == 0;
  if (!ok) return absl::InternalError("libjwt refused the device token's claims or key");
  std::unique_ptr<char, MallocFree> token(jwt_encode_str(jwt.get()));
  if (token == nullptr) return absl::InternalError("jwt_encode_str failed");
  return std::string(token.get());
}

}  // namespace hive

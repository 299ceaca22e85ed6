// bridge/auth/backend_policy.h
// Who may call the gRPC API, and for which accounts: the backend side of
// authorisation (devices prove themselves with JWTs; see jwt_authenticator.h).
// Off unless --backend-policy-file is given; then every call must present a
// known credential — a bearer token in the `authorization` metadata, or a TLS
// client certificate (mTLS) by its subject's common name — and may only touch
// devices and events of the accounts its line grants.
//
// The file, one caller per line ('#' starts a comment):
//
//   # caller   credential                           accounts
//   billing    token-sha256:<64 hex digits>         8813b625-1a2b-4c3d-9e8f-001122334455,…
//   ops        cert:ops.backend.internal            *
//   dev        token:a-long-random-string           *
//
// `token-sha256:` keeps only the token's SHA-256 in the file; `token:` is for
// local use. Tokens are compared by their digest, never logged or echoed.
//
//   absl::StatusOr<BackendPolicy> policy = BackendPolicy::Parse(file_contents);
//   absl::StatusOr<BackendGrant> grant = policy->Admit({.bearer_token = t});
//   if (!grant->Allows(account_id)) → PERMISSION_DENIED
#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hive {

// What a call presented.
struct BackendCredential {
  // From `authorization: Bearer <token>`; empty when absent.
  std::string bearer_token;
  // The verified client certificate's subject CN; empty without mTLS.
  std::string certificate_name;
};

// What a caller may do.
class BackendGrant {
 public:
  BackendGrant(std::string caller, bool all_accounts, absl::flat_hash_set<std::string> accounts)
      : caller_(std::move(caller)), all_accounts_(all_accounts), accounts_(std::move(accounts)) {}

  const std::string& caller() const { return caller_; }
  bool all_accounts() const { return all_accounts_; }
  bool Allows(absl::string_view account_id) const { return all_accounts_ || accounts_.contains(account_id); }
  // The granted accounts, sorted; empty when all_accounts().
  std::vector<std::string> accounts() const;

 private:
  std::string caller_;
  bool all_accounts_;
  absl::flat_hash_set<std::string> accounts_;
};

class BackendPolicy {
 public:
  // INVALID_ARGUMENT naming the line and the problem (never a token).
  static absl::StatusOr<BackendPolicy> Parse(absl::string_view text);

  // UNAUTHENTICATED when the credential is missing or unknown.
  absl::StatusOr<BackendGrant> Admit(const BackendCredential& credential) const;

  size_t size() const { return by_token_digest_.size() + by_certificate_.size(); }

 private:
  absl::flat_hash_map<std::string, BackendGrant> by_token_digest_;
  absl::flat_hash_map<std::string, BackendGrant> by_certificate_;
};

}  // namespace hive

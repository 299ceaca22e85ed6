#include "bridge/auth/backend_policy.h"

#include <openssl/sha.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bridge/uuid.h"

namespace hive {
namespace {

constexpr absl::string_view kTokenDigest = "token-sha256:";
constexpr absl::string_view kToken = "token:";
constexpr absl::string_view kCertificate = "cert:";

std::string Sha256Hex(absl::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

bool IsLowerHex(absl::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'); });
}

}  // namespace

std::vector<std::string> BackendGrant::accounts() const {
  std::vector<std::string> sorted(accounts_.begin(), accounts_.end());
  std::sort(sorted.begin(), sorted.end());
  return sorted;
}

absl::StatusOr<BackendPolicy> BackendPolicy::Parse(absl::string_view text) {
  BackendPolicy policy;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = line.substr(0, line.find('#'));
    std::vector<absl::string_view> fields = absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.empty()) continue;
    auto invalid = [number](absl::string_view problem) {
      return absl::InvalidArgumentError(absl::StrCat("backend policy line ", number, ": ", problem));
    };
    if (fields.size() != 3) return invalid("expected: caller credential accounts");
    const absl::string_view caller = fields[0];
    const absl::string_view credential = fields[1];
    bool all_accounts = fields[2] == "*";
    absl::flat_hash_set<std::string> accounts;
    if (!all_accounts) {
      for (absl::string_view account : absl::StrSplit(fields[2], ',', absl::SkipEmpty())) {
        if (!IsUuid(account)) return invalid(absl::StrCat("account \"", account, "\" is not a UUID"));
        accounts.insert(CanonicalUuid(account));
      }
    }
    BackendGrant grant(std::string(caller), all_accounts, std::move(accounts));
    std::string key;
    absl::flat_hash_map<std::string, BackendGrant>* table = &policy.by_token_digest_;
    if (absl::StartsWith(credential, kTokenDigest)) {
      key = absl::AsciiStrToLower(credential.substr(kTokenDigest.size()));
      if (key.size() != 64 || !IsLowerHex(key)) return invalid("token-sha256: expected 64 hex digits");
    } else if (absl::StartsWith(credential, kToken)) {
      const absl::string_view token = credential.substr(kToken.size());
      if (token.size() < 16) return invalid("token: shorter than 16 characters");
      key = Sha256Hex(token);
    } else if (absl::StartsWith(credential, kCertificate) && credential.size() > kCertificate.size()) {
      key = std::string(credential.substr(kCertificate.size()));
      table = &policy.by_certificate_;
    } else {
      return invalid("credential must start with token-sha256:, token: or cert:");
    }
    if (!table->emplace(std::move(key), std::move(grant)).second) {
      return invalid(absl::StrCat("credential of \"", caller, "\" is already granted on an earlier line"));
    }
  }
  return policy;
}

absl::StatusOr<BackendGrant> BackendPolicy::Admit(const BackendCredential& credential) const {
  if (!credential.certificate_name.empty()) {
    if (auto it = by_certificate_.find(credential.certificate_name); it != by_certificate_.end()) return it->second;
  }
  if (!credential.bearer_token.empty()) {
    if (auto it = by_token_digest_.find(Sha256Hex(credential.bearer_token)); it != by_token_digest_.end()) {
      return it->second;
    }
    return absl::UnauthenticatedError("the bearer token is not known to this bridge");
  }
  if (!credential.certificate_name.empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat("client certificate \"", credential.certificate_name, "\" is not granted any access"));
  }
  return absl::UnauthenticatedError("a bearer token (authorization metadata) or a client certificate is required");
}

}  // namespace hive

#include "server/backend_access.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace hive::server {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

BackendCredential CredentialOf(const grpc::ServerContextBase& context) {
  BackendCredential credential;
  const auto& metadata = context.client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    const absl::string_view value(it->second.data(), it->second.size());
    if (absl::StartsWithIgnoreCase(value, kBearer)) credential.bearer_token = std::string(value.substr(kBearer.size()));
  }
  // Only a certificate the TLS handshake verified against --grpc-client-ca
  // makes the peer authenticated.
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    for (const grpc::string_ref& name : auth->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME)) {
      credential.certificate_name.assign(name.data(), name.size());
    }
  }
  return credential;
}

}  // namespace

absl::StatusOr<std::optional<BackendGrant>> BackendAccess::Admit(const grpc::ServerContextBase& context) const {
  if (!policy_.has_value()) return std::nullopt;
  absl::StatusOr<BackendGrant> grant = policy_->Admit(CredentialOf(context));
  if (!grant.ok()) return grant.status();
  return std::optional<BackendGrant>(*std::move(grant));
}

absl::Status AccountDenied(const BackendGrant& grant, absl::string_view account_id) {
  return absl::PermissionDeniedError(
      absl::StrCat("caller \"", grant.caller(), "\" may not act for account ", account_id));
}

}  // namespace hive::server

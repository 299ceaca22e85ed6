// server/backend_access.h
// Authorisation of gRPC callers (docs/SECURITY.md): off unless a backend
// policy is configured (--backend-policy-file); then each DeviceBridge call
// is admitted by its bearer token or its verified client certificate, and
// gets the caller's grant, which the handlers check against the accounts the
// call touches.
//
//   absl::StatusOr<std::optional<BackendGrant>> grant = access.Admit(*context);
//   if (!grant.ok()) → UNAUTHENTICATED;  *grant == nullopt → everything allowed
#pragma once

#include <optional>

#include "absl/status/statusor.h"
#include "bridge/auth/backend_policy.h"
#include "grpcpp/grpcpp.h"

namespace hive::server {

class BackendAccess {
 public:
  explicit BackendAccess(std::optional<BackendPolicy> policy) : policy_(std::move(policy)) {}

  absl::StatusOr<std::optional<BackendGrant>> Admit(const grpc::ServerContextBase& context) const;

 private:
  const std::optional<BackendPolicy> policy_;
};

// PERMISSION_DENIED naming the caller and the account.
absl::Status AccountDenied(const BackendGrant& grant, absl::string_view account_id);

}  // namespace hive::server

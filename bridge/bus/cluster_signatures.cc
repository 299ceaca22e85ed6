#include "bridge/bus/cluster_signatures.h"

#include <optional>
#include <string>
#include <variant>

#include "absl/strings/str_cat.h"
#include "bridge/log.h"

namespace hive {

void ClusterSignatures::Sign(ClusterMessageKind kind, absl::string_view exchange, absl::string_view routing_key,
                             AmqpMessage& message) const {
  if (signer_ != nullptr) signer_->Sign({kind, exchange, routing_key}, message);
}

bool ClusterSignatures::Authentic(ClusterMessageKind kind, absl::string_view exchange, absl::string_view routing_key,
                                  const AmqpMessage& message) {
  if (signer_ == nullptr) return true;
  const std::optional<SignatureRejection> rejection = signer_->Verify({kind, exchange, routing_key}, message);
  if (!rejection.has_value()) return true;
  rejected_.Count(kind, *rejection);
  const absl::string_view kind_name = ClusterMessageKindName(kind);
  const absl::string_view reason = SignatureRejectionName(*rejection);
  const AmqpValue* replica = FindAmqpValue(message.headers, "x-hive-replica");
  // The user_id property is checked by the broker; the replica header is
  // only what the message claims.
  rejection_log_.Log(absl::StrCat(kind_name, "/", reason), clock_.Now(), LogLevel::kWarn, "cluster_message_rejected",
                     {{"kind", kind_name},
                      {"reason", reason},
                      {"sender", message.user_id.empty() ? "(not stated)" : message.user_id},
                      {"claimed_replica", replica != nullptr && std::holds_alternative<std::string>(*replica)
                                              ? std::get<std::string>(*replica)
                                              : std::string("(none)")},
                      {"exchange", exchange},
                      {"routing_key", routing_key}});
  return false;
}

}  // namespace hive

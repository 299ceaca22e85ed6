// bridge/bus/cluster_signatures.h
// The one place a replica's messages are signed on their way out and checked
// on their way in, for every part of the bus on either connection
// (docs/SECURITY.md#the-message-broker). With a signer (--cluster-key-file)
// each message published is signed for where it goes, and each message read
// is checked before anything acts on it; one that fails is counted
// (RejectedMessages, by kind and reason) and logged, rate-limited, since
// anyone who may publish on the virtual host can provoke the line. Without a
// signer (--cluster-insecure-unsigned=true) nothing is signed or checked.
//
//   signatures.Sign(ClusterMessageKind::kAnswer, "", reply_to, message);
//   if (!signatures.Authentic(kind, exchange, routing_key, message)) return;  // dropped
//
// Thread-safe: both bus threads share it.
#pragma once

#include <memory>

#include "absl/strings/string_view.h"
#include "bridge/bus/amqp_connection.h"
#include "bridge/bus/message_signer.h"
#include "bridge/bus/rejected_messages.h"
#include "bridge/clock.h"
#include "bridge/log_rate_limiter.h"

namespace hive {

class ClusterSignatures {
 public:
  // `signer` null: nothing is signed or checked.
  ClusterSignatures(std::shared_ptr<const MessageSigner> signer, const Clock& clock)
      : signer_(std::move(signer)), clock_(clock) {}

  // Signs `message`, about to be published to `exchange` with `routing_key`
  // as `kind`.
  void Sign(ClusterMessageKind kind, absl::string_view exchange, absl::string_view routing_key,
            AmqpMessage& message) const;

  // Whether `message`, delivered from `exchange` with `routing_key` as
  // `kind`, is signed under the cluster's key; one that is not is counted and
  // logged.
  bool Authentic(ClusterMessageKind kind, absl::string_view exchange, absl::string_view routing_key,
                 const AmqpMessage& message);

  RejectedCounts rejected() const { return rejected_.snapshot(); }

 private:
  const std::shared_ptr<const MessageSigner> signer_;
  const Clock& clock_;
  RejectedMessages rejected_;
  // One key per kind and reason.
  LogRateLimiter rejection_log_{{}};
};

}  // namespace hive

// bridge/queue/queue_op.h
// Cluster mode: one operation on the fleet's queued requests, as the
// replicas append them to one totally ordered, durable log (the RabbitMQ
// stream hive.queue.stream) and every replica applies them, in log order, to
// its own view (RequestQueue). The view's state machine is deterministic: an
// operation's effect depends only on the view and on the operation itself
// (its times are the issuer's, carried in it), never on the applying
// replica's clock, so every replica's view agrees. Whoever must decide (a
// CLAIM before writing a request to its device, a CANCEL) appends its
// operation and acts only once it has read it back and seen what it did:
// the first of two competing operations in log order wins.
//
//   QueueLog& log = ...;            // the cluster bus
//   log.Append(op);                 // false: the broker is unreachable
//   ... the bus reads it back: queue.Apply(op)
#pragma once

#include <string>

#include "absl/time/time.h"
#include "bridge/request_correlator.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive {

struct QueueOp {
  enum class Kind {
    // `request` queued until `expires_at` (digest: StableDigestOf). A
    // request id queued before is the same request (no change) or refused.
    kQueued,
    // `replica` hands the QUEUED request to the device it holds: QUEUED →
    // SENT, only if still QUEUED and `at` is before its expiry.
    kClaim,
    // The claim `claim` was certainly never written to the device: SENT →
    // QUEUED, only if that claim is the one that won.
    kRelease,
    // The device's answer to the claimed request: `status`, `outcome`,
    // `error`, `ended` (as RequestQueue::Progress).
    kProgress,
    // QUEUED → CANCELLED.
    kCancel,
    // QUEUED → EXPIRED, only if `at` is at or past its expiry.
    kExpire,
    // Replica `claim` went away (or restarted) while it held a claimed
    // request unanswered: SENT/ACKED → UNCONFIRMED, never sent again.
    kOrphan,
    // No change: a replica reading its own marker back knows its view has
    // caught up with everything appended before it.
    kMarker,
  };

  Kind kind = Kind::kMarker;
  // Unique (a UUID): how the issuer recognises its operation read back.
  std::string id;
  // The issuing replica.
  std::string replica;
  // The issuer's clock when it appended the operation.
  absl::Time at = absl::UnixEpoch();
  std::string request_id;
  // kQueued.
  hive::bridge::v1::SendDeviceRequestRequest request;
  RequestCorrelator::Digest digest = 0;
  absl::Time expires_at = absl::UnixEpoch();
  // kRelease: the claim's op id; kOrphan: the replica that went away.
  std::string claim;
  // kProgress.
  hive::bridge::v1::RequestStatus status = hive::bridge::v1::REQUEST_STATUS_UNSPECIFIED;
  hive::bridge::v1::SendDeviceRequestResponse outcome;
  std::string error;
  bool ended = false;
};

// Where the operations go: the fleet's log.
class QueueLog {
 public:
  virtual ~QueueLog() = default;
  // Appends `op`; it comes back, in log order, to every replica's
  // QueueLogReader. False when it cannot be appended now (the broker is
  // unreachable).
  virtual bool Append(const QueueOp& op) = 0;
};

// What reads the log: each operation once, in log order, on the bus thread.
class QueueLogReader {
 public:
  virtual ~QueueLogReader() = default;
  virtual void Apply(const QueueOp& op) = 0;
};

}  // namespace hive

// bridge/bus/rejected_messages.h
// The inter-replica messages a replica refused for their signature
// (bridge/bus/message_signer.h), by what kind of message and why, for
// /metrics (hivebridge_cluster_messages_rejected_total{kind,reason}).
//
//   RejectedMessages rejected;                                   // one per bus
//   rejected.Count(ClusterMessageKind::kRequest, SignatureRejection::kBadSignature);  // any thread
//   uint64_t n = rejected.value(ClusterMessageKind::kRequest, SignatureRejection::kBadSignature);
//
// Thread-safe: relaxed atomics, read at scrape time.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace hive {

// What an inter-replica message is for: the consumer it arrives on (or the
// destination it is published to). Part of what is signed, so a signature
// made for one kind does not pass for another.
enum class ClusterMessageKind {
  kRequest,   // a SendDeviceRequest routed to the replica holding the device
  kAnswer,    // a replica's answer to a routed request
  kPresence,  // connected/disconnected (evictions follow), snapshot, heartbeat (liveness), hello, goodbye
  kEvent,     // a device event, read from the fleet's event stream
  kQueueOp,   // a queued-request operation, read from the queue stream
  kJobOp,     // a fleet job's operation, read from the jobs stream
};
inline constexpr size_t kClusterMessageKindCount = static_cast<size_t>(ClusterMessageKind::kJobOp) + 1;

// Why a message was refused.
enum class SignatureRejection {
  kMissingSignature,  // no signature header (an unsigned publisher)
  kBadSignature,      // a signature that does not match the message under our key
  kUnknownKey,        // signed under a key id that is not ours (or with none)
};
inline constexpr size_t kSignatureRejectionCount = static_cast<size_t>(SignatureRejection::kUnknownKey) + 1;

// The label values in /metrics and in the log.
constexpr absl::string_view ClusterMessageKindName(ClusterMessageKind kind) {
  switch (kind) {
    case ClusterMessageKind::kRequest:
      return "request";
    case ClusterMessageKind::kAnswer:
      return "answer";
    case ClusterMessageKind::kPresence:
      return "presence";
    case ClusterMessageKind::kEvent:
      return "event";
    case ClusterMessageKind::kQueueOp:
      return "queue_op";
    case ClusterMessageKind::kJobOp:
      return "job_op";
  }
  return "unknown";
}

constexpr absl::string_view SignatureRejectionName(SignatureRejection reason) {
  switch (reason) {
    case SignatureRejection::kMissingSignature:
      return "missing_signature";
    case SignatureRejection::kBadSignature:
      return "bad_signature";
    case SignatureRejection::kUnknownKey:
      return "unknown_key";
  }
  return "unknown";
}

// A snapshot of the counts, by kind then reason.
using RejectedCounts = std::array<std::array<uint64_t, kSignatureRejectionCount>, kClusterMessageKindCount>;

class RejectedMessages {
 public:
  void Count(ClusterMessageKind kind, SignatureRejection reason) {
    counts_[static_cast<size_t>(kind)][static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t value(ClusterMessageKind kind, SignatureRejection reason) const {
    return counts_[static_cast<size_t>(kind)][static_cast<size_t>(reason)].load(std::memory_order_relaxed);
  }
  RejectedCounts snapshot() const {
    RejectedCounts out{};
    for (size_t k = 0; k < kClusterMessageKindCount; ++k) {
      for (size_t r = 0; r < kSignatureRejectionCount; ++r) out[k][r] = counts_[k][r].load(std::memory_order_relaxed);
    }
    return out;
  }

 private:
  std::array<std::array<std::atomic<uint64_t>, kSignatureRejectionCount>, kClusterMessageKindCount> counts_{};
};

}  // namespace hive

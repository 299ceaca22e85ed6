// bridge/limit_counters.h
// How often each limit of the bridge refused something or cut a connection
// off, for /metrics: one counter per limit, named after its flag
// (hivebridge_limit_refusals_total{limit="max-connections"}). docs/SECURITY.md
// lists the limits and what each counts.
//
//   LimitCounters counters;                       // one per process, outlives its users
//   counters.Count(Limit::kDeviceEventRate);      // from any thread
//   uint64_t refused = counters.value(Limit::kDeviceEventRate);
//
// Components that refuse take a `LimitCounters*` that may be null (unit tests
// and tools that do not care), and count through CountIn(). Thread-safe:
// relaxed atomics, read at scrape time.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace hive {

// Every limit that counts its refusals. The unit counted is in the comment.
enum class Limit {
  kMaxConnections,            // WebSocket connections closed 1013 at the upgrade
  kMaxConnectionsPerAccount,  // authenticated devices closed 4403
  kHandshakeTimeout,          // TCP (or TLS) connections that never completed the upgrade
  kAuthTimeout,               // connections closed 4401 for presenting no token in time
  kIdleTimeout,               // devices closed 4410 for silence
  kMaxMessageBytes,           // connections closed 1009 for an oversized frame
  kMaxBadFrames,              // connections closed 1008 for invalid frames in a row
  kDeviceEventRate,           // device events refused over the rate, and error replies withheld over it
  kDeviceEventFlood,          // connections closed 4429 for flooding past the rate
  kMaxRequestsPerDevice,      // SendDeviceRequest calls refused RESOURCE_EXHAUSTED
  kMaxPendingRequests,        // SendDeviceRequest calls refused RESOURCE_EXHAUSTED
  kDeviceSendQueue,           // frames refused RESOURCE_EXHAUSTED for a full device send queue
  kMaxSubscribers,            // SubscribeEvents calls refused RESOURCE_EXHAUSTED
  kMaxConnectWaiters,         // SendDeviceRequest calls refused RESOURCE_EXHAUSTED instead of waiting for a device
  kMaxEventBytes,             // device events refused for their size (an error reply each)
  kDeviceSendBuffer,          // frames refused RESOURCE_EXHAUSTED, and devices closed 4413, for bytes waiting
  kEventHistoryBytes,         // events dropped from the history for its byte budget before its count
  kSubscriberQueueBytes,      // events dropped from a subscriber's queue for its byte budget (into a Gap)
  kMaxQueuedPerDevice,        // SendDeviceRequest calls with queue_ttl refused RESOURCE_EXHAUSTED
  kMaxQueuedRequests,         // SendDeviceRequest calls with queue_ttl refused RESOURCE_EXHAUSTED
  kMaxQueuedBytes,            // SendDeviceRequest calls with queue_ttl refused RESOURCE_EXHAUSTED
  kMaxJobDevices,             // StartJob calls refused RESOURCE_EXHAUSTED for selecting too many devices
  kMaxActiveJobs,             // StartJob calls refused RESOURCE_EXHAUSTED while the most jobs run
};

inline constexpr size_t kLimitCount = static_cast<size_t>(Limit::kMaxActiveJobs) + 1;

// The label value of `limit` in /metrics: the flag that sets it (the flood
// close has no flag of its own: it is the rate limit's, after --max-bad-frames).
constexpr absl::string_view LimitName(Limit limit) {
  switch (limit) {
    case Limit::kMaxConnections:
      return "max-connections";
    case Limit::kMaxConnectionsPerAccount:
      return "max-connections-per-account";
    case Limit::kHandshakeTimeout:
      return "handshake-timeout";
    case Limit::kAuthTimeout:
      return "auth-timeout";
    case Limit::kIdleTimeout:
      return "idle-timeout";
    case Limit::kMaxMessageBytes:
      return "max-message-bytes";
    case Limit::kMaxBadFrames:
      return "max-bad-frames";
    case Limit::kDeviceEventRate:
      return "device-event-rate";
    case Limit::kDeviceEventFlood:
      return "device-event-rate-close";
    case Limit::kMaxRequestsPerDevice:
      return "max-requests-per-device";
    case Limit::kMaxPendingRequests:
      return "max-pending-requests";
    case Limit::kDeviceSendQueue:
      return "device-send-queue";
    case Limit::kMaxSubscribers:
      return "max-subscribers";
    case Limit::kMaxConnectWaiters:
      return "max-connect-waiters";
    case Limit::kMaxEventBytes:
      return "max-event-bytes";
    case Limit::kDeviceSendBuffer:
      return "device-send-buffer";
    case Limit::kEventHistoryBytes:
      return "event-history-bytes";
    case Limit::kSubscriberQueueBytes:
      return "subscriber-queue-bytes";
    case Limit::kMaxQueuedPerDevice:
      return "max-queued-per-device";
    case Limit::kMaxQueuedRequests:
      return "max-queued-requests";
    case Limit::kMaxQueuedBytes:
      return "max-queued-bytes";
    case Limit::kMaxJobDevices:
      return "max-job-devices";
    case Limit::kMaxActiveJobs:
      return "max-active-jobs";
  }
  return "unknown";
}

class LimitCounters {
 public:
  void Count(Limit limit) { counts_[static_cast<size_t>(limit)].fetch_add(1, std::memory_order_relaxed); }
  uint64_t value(Limit limit) const { return counts_[static_cast<size_t>(limit)].load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<uint64_t>, kLimitCount> counts_{};
};

// Counts `limit` in `counters` unless it is null.
inline void CountIn(LimitCounters* counters, Limit limit) {
  if (counters != nullptr) counters->Count(limit);
}

}  // namespace hive

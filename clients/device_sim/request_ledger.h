// clients/device_sim/request_ledger.h
// What the simulated fleet saw of the bridge's device-requests, for the
// checks a run is made for: did any device receive the same request id
// twice (a broken at-most-once promise), and how many requests arrived in
// the busiest second (a rollout's --max-rate seen from the devices' side).
// Written by the I/O threads, read by the main thread for --json-stats.
//
// Memory is bounded: each device remembers its last kIdsPerDevice request
// ids (a duplicate older than that is not seen; a rollout sends one request
// per device), and the pace window holds one second of receipt times.
//
//   ledger.Record(device_id, request_id, absl::Now());
//   RequestLedger::Totals totals = ledger.Read();  // .duplicates, .busiest_second
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace hive::sim {

class RequestLedger {
 public:
  static constexpr size_t kIdsPerDevice = 256;

  struct Totals {
    int64_t duplicates = 0;      // requests whose id the device had already received
    int64_t busiest_second = 0;  // most requests received within any one second
  };

  void Record(absl::string_view device_id, absl::string_view request_id, absl::Time received);

  Totals Read() const;

 private:
  // One device's recent request ids, oldest first in `order`.
  struct Seen {
    absl::flat_hash_set<std::string> ids;
    std::deque<std::string> order;
  };

  mutable absl::Mutex mutex_;
  absl::flat_hash_map<std::string, Seen> devices_ ABSL_GUARDED_BY(mutex_);
  // Receipt times within the last second of the newest one, in order.
  std::deque<absl::Time> window_ ABSL_GUARDED_BY(mutex_);
  Totals totals_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace hive::sim

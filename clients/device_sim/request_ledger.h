// clients/device_sim/request_ledger.h
// What the simulated fleet saw of the bridge's device-requests, for the
// checks a run is made for: did any device receive the same request id
// twice (a broken at-most-once promise), and how fast requests arrived (a
// rollout's --max-rate seen from the devices' side): the most within any one
// second and within any five, and the time from the first to the last. The
// five-second count and the span say the same as the busiest second with
// more room for the scheduling of a loaded machine, which can hold receipts
// back and let them arrive together: a stall of d seconds adds up to d
// seconds' worth of requests to one window, a larger share of one second
// than of five, and a stall never shortens the span.
// Written by the I/O threads, read by the main thread for --json-stats.
//
// Memory is bounded: each device remembers its last kIdsPerDevice request
// ids (a duplicate older than that is not seen; a rollout sends one request
// per device), and the pace windows hold one and five seconds of receipt
// times.
//
//   ledger.Record(device_id, request_id, absl::Now());
//   RequestLedger::Totals totals = ledger.Read();  // .duplicates, .busiest_second, ...
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
    int64_t duplicates = 0;            // requests whose id the device had already received
    int64_t busiest_second = 0;        // most requests received within any one second
    int64_t busiest_five_seconds = 0;  // most requests received within any five seconds
    absl::Duration span;               // from the first request received to the last
  };

  void Record(absl::string_view device_id, absl::string_view request_id, absl::Time received);

  Totals Read() const;

 private:
  // Receipt times within `width` of the newest one, in order, and the most
  // it ever held.
  struct PaceWindow {
    explicit PaceWindow(absl::Duration width) : width(width) {}
    void Add(absl::Time at);

    absl::Duration width;
    std::deque<absl::Time> times;
    int64_t busiest = 0;
  };

  // One device's recent request ids, oldest first in `order`.
  struct Seen {
    absl::flat_hash_set<std::string> ids;
    std::deque<std::string> order;
  };

  mutable absl::Mutex mutex_;
  absl::flat_hash_map<std::string, Seen> devices_ ABSL_GUARDED_BY(mutex_);
  PaceWindow second_ ABSL_GUARDED_BY(mutex_){absl::Seconds(1)};
  PaceWindow five_seconds_ ABSL_GUARDED_BY(mutex_){absl::Seconds(5)};
  absl::Time first_ ABSL_GUARDED_BY(mutex_) = absl::InfinitePast();
  // The newest receipt time; receipts recorded out of order count as this.
  absl::Time last_ ABSL_GUARDED_BY(mutex_) = absl::InfinitePast();
  int64_t duplicates_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace hive::sim

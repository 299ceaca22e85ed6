// clients/device_sim/sim_stats.h
// What a simulation run has done so far, counted by the I/O threads and read
// by the main thread for the progress line and the final --json-stats line.
// Counters are atomics (relaxed: each is a tally, none orders another); the
// closes-by-code map has its own mutex.
//
//   stats.events_sent.fetch_add(1, std::memory_order_relaxed);
//   SimStats::Snapshot now = stats.Read();
//   std::cout << now.ProgressLine(devices) << "\r";
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "clients/device_sim/request_ledger.h"

namespace hive::sim {

class SimStats {
 public:
  struct Snapshot {
    int64_t connected = 0;              // connections open now
    int64_t authenticated = 0;          // of those, authenticated
    int64_t authenticated_devices = 0;  // devices that authenticated at least once
    int64_t events_sent = 0;
    int64_t requests_received = 0;
    RequestLedger::Totals requests;  // duplicates and the busiest second
    int64_t acks_sent = 0;
    int64_t results_sent = 0;      // ok and error results
    int64_t bridge_errors = 0;     // the bridge's `error` replies
    int64_t connect_failures = 0;  // connections that never opened
    int64_t reconnects = 0;
    std::map<int, int64_t> closes;  // by close code the bridge sent (1006: none)

    // "connected 200/200 authenticated 200 events 1000 ... closes 1000×3 4401×1"
    std::string ProgressLine(size_t devices) const;
    // The same counts as one JSON object, with the run's length.
    std::string ToJson(size_t devices, absl::Duration elapsed) const;
  };

  std::atomic<int64_t> connected{0};
  std::atomic<int64_t> authenticated{0};
  std::atomic<int64_t> authenticated_devices{0};
  std::atomic<int64_t> events_sent{0};
  std::atomic<int64_t> requests_received{0};
  std::atomic<int64_t> acks_sent{0};
  std::atomic<int64_t> results_sent{0};
  std::atomic<int64_t> bridge_errors{0};
  std::atomic<int64_t> connect_failures{0};
  std::atomic<int64_t> reconnects{0};
  RequestLedger ledger;

  void RecordClose(int code);

  Snapshot Read() const;

 private:
  mutable absl::Mutex mutex_;
  std::map<int, int64_t> closes_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace hive::sim

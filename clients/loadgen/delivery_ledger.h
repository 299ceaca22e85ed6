// clients/loadgen/delivery_ledger.h
// Where the fan-out load's emitters and receivers meet. Each emitter slot
// holds one event in flight; the event is done when every receiver (each
// subscriber, or the echoing connection) has had it, and only then does the
// slot send its next one, so the load is as fast as the slowest receiver and
// never overruns the bridge's queues. An event not done in time is retired
// as lost and its slot moves on.
//
// A slot's state is one atomic word, (sequence << 20) | receivers still
// owed, so a late delivery of a retired event can never count towards its
// successor.
//
//   uint64_t seq = ledger.Arm(slot);                          // emitter thread
//   if (ledger.Deliver(stamp, SteadyNanos())) Refill(stamp);  // any receiver thread
//   if (ledger.Retire(slot, seq)) Resend(slot);               // emitter thread, after the timeout
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "clients/loadgen/event_stamp.h"
#include "clients/loadgen/latency_histogram.h"

namespace hive::loadgen {

class DeliveryLedger {
 public:
  struct Tally {
    uint64_t sent = 0;
    uint64_t deliveries = 0;  // receipts, every receiver counted
    uint64_t completed = 0;   // events every receiver got
    uint64_t lost = 0;        // retired before every receiver got them
    int64_t at_nanos = 0;
    LatencySnapshot latency;  // send → each receipt
  };

  DeliveryLedger(size_t slots, int receivers);

  // The slot's next event: returns its sequence number.
  uint64_t Arm(uint32_t slot);
  // A receiver got the event at `now_nanos`; true when it was the last one owed.
  bool Deliver(const EventStamp& stamp, int64_t now_nanos);
  // Gives up on the event if still owed; true when it was (now lost).
  bool Retire(uint32_t slot, uint64_t seq);

  Tally Read() const;

 private:
  static constexpr int kOwedBits = 20;
  static constexpr uint64_t kOwedMask = (uint64_t{1} << kOwedBits) - 1;

  const size_t slots_count_;
  const uint64_t receivers_;
  std::unique_ptr<std::atomic<uint64_t>[]> slots_;
  std::atomic<uint64_t> next_seq_{1};
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> deliveries_{0};
  std::atomic<uint64_t> completed_{0};
  std::atomic<uint64_t> lost_{0};
  LatencyHistogram latencies_;
};

}  // namespace hive::loadgen

#include "clients/loadgen/delivery_ledger.h"

#include "absl/time/time.h"

namespace hive::loadgen {

DeliveryLedger::DeliveryLedger(size_t slots, int receivers)
    : slots_count_(slots), receivers_(static_cast<uint64_t>(receivers)), slots_(new std::atomic<uint64_t>[slots]) {
  for (size_t i = 0; i < slots; ++i) slots_[i].store(0);
}

uint64_t DeliveryLedger::Arm(uint32_t slot) {
  const uint64_t seq = next_seq_.fetch_add(1, std::memory_order_relaxed);
  slots_[slot].store((seq << kOwedBits) | receivers_, std::memory_order_release);
  sent_.fetch_add(1, std::memory_order_relaxed);
  return seq;
}

bool DeliveryLedger::Deliver(const EventStamp& stamp, int64_t now_nanos) {
  if (stamp.slot >= slots_count_) return false;
  latencies_.Record(absl::Nanoseconds(now_nanos - stamp.sent_nanos));
  deliveries_.fetch_add(1, std::memory_order_relaxed);
  std::atomic<uint64_t>& state = slots_[stamp.slot];
  uint64_t current = state.load(std::memory_order_acquire);
  while ((current >> kOwedBits) == stamp.seq && (current & kOwedMask) > 0) {
    if (state.compare_exchange_weak(current, current - 1, std::memory_order_acq_rel)) {
      if ((current & kOwedMask) != 1) return false;
      completed_.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
  }
  return false;  // a retired event, or a duplicate
}

bool DeliveryLedger::Retire(uint32_t slot, uint64_t seq) {
  std::atomic<uint64_t>& state = slots_[slot];
  uint64_t current = state.load(std::memory_order_acquire);
  while ((current >> kOwedBits) == seq && (current & kOwedMask) > 0) {
    if (state.compare_exchange_weak(current, seq << kOwedBits, std::memory_order_acq_rel)) {
      lost_.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
  }
  return false;
}

DeliveryLedger::Tally DeliveryLedger::Read() const {
  Tally tally;
  tally.at_nanos = SteadyNanos();
  tally.sent = sent_.load(std::memory_order_relaxed);
  tally.deliveries = deliveries_.load(std::memory_order_relaxed);
  tally.completed = completed_.load(std::memory_order_relaxed);
  tally.lost = lost_.load(std::memory_order_relaxed);
  tally.latency = latencies_.Read();
  return tally;
}

}  // namespace hive::loadgen

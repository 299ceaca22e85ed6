// bridge/bus/buffer_budget.h
// The one bound on what a replica holds of its devices' events until the
// broker has them: queued for the bus thread, kept to publish again after a
// reconnect, or published and awaiting the broker's confirm. While the
// broker is away, blocked or silent, all of it grows; the budget bounds it by
// count and by bytes (--cluster-buffer-bytes), whichever bites first. An
// event over the budget is refused at once (the caller drops and counts it),
// so nothing already held is ever thrown away for it.
//
//   BufferBudget budget(100000, 64 << 20);
//   if (!budget.TryReserve(bytes)) { /* dropped, counted */ }
//   ...the broker confirmed it: budget.Release(bytes);
//
// Thread-safe.
#pragma once

#include <cstddef>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace hive {

class BufferBudget {
 public:
  BufferBudget(size_t max_events, size_t max_bytes) : max_events_(max_events), max_bytes_(max_bytes) {}

  // Holds one more event of `bytes`; false (and nothing held) when that
  // would pass either bound.
  bool TryReserve(size_t bytes);
  // One event of `bytes` is no longer held.
  void Release(size_t bytes);

  size_t events() const;
  size_t bytes() const;
  size_t max_events() const { return max_events_; }
  size_t max_bytes() const { return max_bytes_; }

 private:
  const size_t max_events_;
  const size_t max_bytes_;
  mutable absl::Mutex mu_;
  size_t events_ ABSL_GUARDED_BY(mu_) = 0;
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace hive

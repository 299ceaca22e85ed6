#include "bridge/bus/buffer_budget.h"

namespace hive {

bool BufferBudget::TryReserve(size_t bytes) {
  absl::MutexLock lock(&mu_);
  if (events_ + 1 > max_events_ || bytes_ + bytes > max_bytes_) return false;
  ++events_;
  bytes_ += bytes;
  return true;
}

void BufferBudget::Release(size_t bytes) {
  absl::MutexLock lock(&mu_);
  if (events_ > 0) --events_;
  bytes_ -= bytes < bytes_ ? bytes : bytes_;
}

size_t BufferBudget::events() const {
  absl::MutexLock lock(&mu_);
  return events_;
}

size_t BufferBudget::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

}  // namespace hive

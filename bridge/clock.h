// bridge/clock.h
// The time source of every component that waits or stamps: injected, so unit
// tests move time by hand instead of sleeping.
#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace hive {

// Tells the current time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The wall clock.
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace hive

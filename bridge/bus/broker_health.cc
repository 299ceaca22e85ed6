#include "bridge/bus/broker_health.h"

#include <optional>

namespace hive {

void BrokerHealth::Connected(absl::Duration heartbeat) {
  heartbeat_ms_.store(absl::ToInt64Milliseconds(heartbeat), std::memory_order_relaxed);
  blocked_ = false;
  Heard();
  up_ = true;
}

void BrokerHealth::Disconnected() {
  up_ = false;
  blocked_ = false;
}

void BrokerHealth::Blocked() { blocked_ = true; }

void BrokerHealth::Unblocked() { blocked_ = false; }

void BrokerHealth::Heard() { heard_ns_.store(absl::ToUnixNanos(clock_.Now()), std::memory_order_relaxed); }

absl::Duration BrokerHealth::silent_for() const {
  if (!up_) return absl::ZeroDuration();
  return clock_.Now() - absl::FromUnixNanos(heard_ns_.load(std::memory_order_relaxed));
}

absl::Duration BrokerHealth::stuck_for() const {
  if (writes_ == nullptr) return absl::ZeroDuration();
  const std::optional<absl::Time> since = writes_->writing_since();
  return since.has_value() ? clock_.Now() - *since : absl::ZeroDuration();
}

BrokerState BrokerHealth::state() const {
  if (!up_) return BrokerState::kDisconnected;
  const absl::Duration beat = heartbeat();
  // Heartbeats are off (the broker refused them): only a stuck write tells.
  const bool quiet = beat > absl::ZeroDuration() && silent_for() > beat * 3 / 2;
  if (quiet || (beat > absl::ZeroDuration() && stuck_for() > beat)) return BrokerState::kSilent;
  if (blocked_) return BrokerState::kBlocked;
  return BrokerState::kConnected;
}

bool BrokerHealth::dead() const {
  if (!up_) return false;
  const absl::Duration beat = heartbeat();
  if (beat <= absl::ZeroDuration()) return false;
  return silent_for() > beat * 2 || stuck_for() > beat * 2;
}

BrokerState WorseBrokerState(BrokerState a, BrokerState b) {
  auto badness = [](BrokerState state) {
    switch (state) {
      case BrokerState::kConnected:
        return 0;
      case BrokerState::kBlocked:
        return 1;
      case BrokerState::kSilent:
        return 2;
      case BrokerState::kDisconnected:
        return 3;
    }
    return 3;
  };
  return badness(a) >= badness(b) ? a : b;
}

}  // namespace hive

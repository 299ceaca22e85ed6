// bridge/bus/broker_health.h
// What the bus thread has seen of its message broker, readable from any
// thread (readiness, /metrics, Route): whether a connection is up, whether
// the broker has blocked this connection's publishers (connection.blocked,
// sent for a memory or disk alarm to clients that ask for it at login), when
// anything last came from the broker, and whether a write to it is stuck.
//
// The broker sends at least a heartbeat every `heartbeat` while it runs, so:
//  - nothing heard for 1.5 heartbeats, or a write stuck for one: silent;
//  - nothing heard for 2 heartbeats, or a write stuck for 2 (the watchdog
//    then cuts it): dead, and the bus reconnects (dead()).
// The replica is healthy (connected()) only in BrokerState::kConnected; only
// then may it judge its peers' silence, since while its broker is blocked or
// silent it could not have heard them.
#pragma once

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"
#include "bridge/bus/bus.h"
#include "bridge/bus/write_watchdog.h"
#include "bridge/clock.h"

namespace hive {

class BrokerHealth {
 public:
  // `writes` (may be null) tells whether a write is stuck.
  BrokerHealth(const Clock& clock, const WriteWatchdog* writes) : clock_(clock), writes_(writes) {}

  // A connection is set up; the broker heartbeats every `heartbeat`.
  void Connected(absl::Duration heartbeat);
  void Disconnected();
  // connection.blocked / connection.unblocked.
  void Blocked();
  void Unblocked();
  // Bytes came from the broker.
  void Heard();

  BrokerState state() const;
  bool connected() const { return state() == BrokerState::kConnected; }
  // Nothing heard for 2 heartbeats, or a write stuck as long.
  bool dead() const;
  // How long since the broker was last heard (zero when disconnected).
  absl::Duration silent_for() const;
  absl::Duration heartbeat() const { return absl::Milliseconds(heartbeat_ms_.load(std::memory_order_relaxed)); }

 private:
  absl::Duration stuck_for() const;

  const Clock& clock_;
  const WriteWatchdog* const writes_;
  std::atomic<bool> up_{false};
  std::atomic<bool> blocked_{false};
  std::atomic<int64_t> heartbeat_ms_{0};
  // absl::ToUnixNanos of the last time the broker was heard.
  std::atomic<int64_t> heard_ns_{0};
};

// Of a replica's two connections to its broker (the data path's and
// presence's: amqp_bus.h), the state of the worse one: the replica is
// connected only when both are, and otherwise says why the worse is not
// (disconnected, then silent, then blocked).
BrokerState WorseBrokerState(BrokerState a, BrokerState b);

}  // namespace hive

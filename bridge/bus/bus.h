// bridge/bus/bus.h
// The bus the bridge's replicas share. Device sessions publish their events
// to it (EventSink); it delivers them to the event hub of every replica,
// this one included. The in-process bus (inproc_bus.h) is the whole fleet
// on its own; the RabbitMQ bus (amqp_bus.h) joins replicas into a cluster.
#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"
#include "bridge/bus/rejected_messages.h"
#include "bridge/event_sink.h"

namespace hive {

// What /metrics reports of the bus.
struct BusCounters {
  // Events handed to the bus by this replica's devices.
  uint64_t published = 0;
  // Events the bus could not carry (buffer full while the broker was away).
  uint64_t dropped = 0;
  // Events delivered into this replica's hub.
  uint64_t delivered = 0;
  // Cluster mode: writes to the broker stuck for the I/O timeout and cut by
  // shutting their connection down (bridge/bus/write_watchdog.h).
  uint64_t writes_cut = 0;
  // Cluster mode: messages from the broker refused for their signature
  // (bridge/bus/message_signer.h), by kind and reason.
  RejectedCounts rejected{};
};

// What a replica knows of its message broker's health
// (docs/architecture.md#cluster-mode). Only kConnected carries traffic:
// in every other state the replica is not ready, buffers its events and
// answers calls for other replicas' devices UNAVAILABLE.
enum class BrokerState {
  kConnected,
  // The broker refused publishers (connection.blocked: a memory or disk
  // alarm); it still delivers.
  kBlocked,
  // Nothing heard from the broker (not even its heartbeats) for longer than
  // its heartbeat interval, or a write to it stuck: it may be frozen.
  kSilent,
  kDisconnected,
};
inline constexpr int kBrokerStateCount = 4;

// "connected", "blocked", "silent", "disconnected": /metrics and logs.
constexpr absl::string_view BrokerStateName(BrokerState state) {
  switch (state) {
    case BrokerState::kConnected:
      return "connected";
    case BrokerState::kBlocked:
      return "blocked";
    case BrokerState::kSilent:
      return "silent";
    case BrokerState::kDisconnected:
      return "disconnected";
  }
  return "unknown";
}

class Bus : public EventSink {
 public:
  // True while the bus carries events: always for the in-process bus; for
  // the RabbitMQ bus, while the broker is connected and healthy
  // (broker_state() is kConnected). Readiness follows it.
  virtual bool connected() const = 0;
  // Why connected() is false, or kConnected.
  virtual BrokerState broker_state() const {
    return connected() ? BrokerState::kConnected : BrokerState::kDisconnected;
  }

  virtual BusCounters counters() const = 0;

  // At shutdown, after the devices are closed: delivers what is queued
  // (bounded in time), then stops. Publish is a no-op afterwards.
  virtual void Stop() = 0;
};

}  // namespace hive

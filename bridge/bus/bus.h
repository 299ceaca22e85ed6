// bridge/bus/bus.h
// The bus the bridge's replicas share. Device sessions publish their events
// to it (EventSink); it delivers them to the event hub of every replica,
// this one included. The in-process bus (inproc_bus.h) is the whole fleet
// on its own; the RabbitMQ bus (amqp_bus.h) joins replicas into a cluster.
#pragma once

#include <cstdint>

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
  // Cluster mode: messages from the broker refused for their signature
  // (bridge/bus/message_signer.h), by kind and reason.
  RejectedCounts rejected{};
};

class Bus : public EventSink {
 public:
  // True while the bus carries events: always for the in-process bus; for
  // the RabbitMQ bus, while connected to the broker. Readiness follows it.
  virtual bool connected() const = 0;

  virtual BusCounters counters() const = 0;

  // At shutdown, after the devices are closed: delivers what is queued
  // (bounded in time), then stops. Publish is a no-op afterwards.
  virtual void Stop() = 0;
};

}  // namespace hive

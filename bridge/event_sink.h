// bridge/event_sink.h
// Where device sessions hand their events: the in-process bus feeds the local
// event hub directly; the RabbitMQ bus publishes to the fleet's exchange.
#pragma once

#include "hive/bridge/v1/events.pb.h"

namespace hive {

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Thread-safe; never blocks on subscribers.
  virtual void Publish(hive::bridge::v1::DeviceEvent event) = 0;
};

}  // namespace hive

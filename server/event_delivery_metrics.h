// server/event_delivery_metrics.h
// How long events take from their device to a subscriber, in /metrics:
//   hivebridge_event_delivery_delay_seconds (histogram)
// from the event's received_at (stamped when the bridge read the device's
// frame, on the replica that holds the device) until a SubscribeEvents
// stream's write of it completed. In cluster mode the two ends may be
// different replicas, so their clocks' skew is part of the figure.
//
//   EventDeliveryMetrics delivery(registry);
//   delivery.Delivered(event);   // on each completed write
#pragma once

#include "hive/bridge/v1/events.pb.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace hive::server {

class EventDeliveryMetrics {
 public:
  // Registers the histogram in `registry`, which must outlive this.
  explicit EventDeliveryMetrics(prometheus::Registry& registry);

  // Thread-safe. Events without received_at (none today) are not counted.
  void Delivered(const hive::bridge::v1::DeviceEvent& event);

 private:
  prometheus::Histogram& delay_;
};

}  // namespace hive::server

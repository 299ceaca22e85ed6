// clients/loadgen/fanout_load.h
// --mode=fanout: `emitters` WebSocket devices send stamped device-state
// events, each keeping `window` in flight, and `subscribers`
// SubscribeEvents streams receive every one of them (an event's slot sends
// the next once all have it: see DeliveryLedger). It measures a window after
// the warm-up: receipts per second (every subscriber counted), events per
// second, and device→subscriber latency. With --echo the same emitters talk
// to a WebSocket echo server and are their own receivers.
//
//   absl::StatusOr<FanoutResult> result = RunFanoutLoad(options);
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/loadgen/json_out.h"
#include "clients/loadgen/latency_histogram.h"
#include "clients/loadgen/loadgen_options.h"

namespace hive::loadgen {

struct FanoutResult {
  int subscribers = 0;  // receivers of each event: 1 against the echo server
  int emitters = 0;
  int window = 0;
  size_t frame_bytes = 0;
  absl::Duration measured;
  uint64_t sent = 0;
  uint64_t deliveries = 0;
  uint64_t completed = 0;
  uint64_t lost = 0;
  uint64_t gaps = 0;
  int64_t errors = 0;
  LatencySnapshot latency;

  double deliveries_per_second() const;
  // subscribers, emitters, window, frame_bytes, window_s, events_sent, deliveries,
  // delivered_per_s, events_per_s, lost, gaps, errors, latency_us{...}
  void AppendTo(JsonOut& out) const;
};

absl::StatusOr<FanoutResult> RunFanoutLoad(const LoadgenOptions& options);

}  // namespace hive::loadgen

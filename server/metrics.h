// server/metrics.h
// /metrics in the Prometheus text exposition format (version 0.0.4): the
// gauges and counters read from the components' own counters at scrape
// time, then the prometheus-cpp families (histograms and labelled counters
// that code observes as it runs: grpc_call_metrics.h, request_metrics.h,
// process_metrics.h). A scrape must stay cheap however large the bridge:
// every source is a counter or a size, never a walk over devices, calls or
// waiters (process_open_fds lists /proc/self/fd, as every client does).
// docs/metrics.md describes every metric.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "bridge/bus/bus.h"
#include "bridge/device_counters.h"
#include "bridge/event_hub.h"
#include "bridge/limit_counters.h"
#include "bridge/queue/request_queue.h"
#include "bridge/request_correlator.h"
#include "bridge/session_registry.h"
#include "bridge/twin/twin_persister.h"
#include "bridge/twin/twin_store.h"
#include "prometheus/collectable.h"
#include "server/device_endpoint.h"

namespace hive::server {

struct MetricsSources {
  const SessionRegistry& registry;
  const EventHub& hub;
  const RequestCorrelator& correlator;
  const Bus& bus;
  const LimitCounters& limits;
  const TwinStore& twins;
  const TwinPersister* persister = nullptr;  // null without --state-dir
  const DeviceEndpoint* endpoint = nullptr;  // set once listening
  // Cluster mode: the fleet's directory, where calls wait for devices.
  const SessionRegistry* fleet = nullptr;
  // With --state-dir: the queued requests.
  const RequestQueue* queue = nullptr;
  // Closes, authentication failures, frames and events of device connections.
  const DeviceCounters* devices = nullptr;
  // What /readyz answers (serving, bus connected, queue caught up); unset: not rendered.
  std::function<bool()> ready;
  // prometheus-cpp collectables, rendered after the gauges above.
  std::vector<const prometheus::Collectable*> families;
};

std::string RenderMetrics(const MetricsSources& sources);

}  // namespace hive::server

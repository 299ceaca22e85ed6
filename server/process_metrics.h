// server/process_metrics.h
// The process_* family every Prometheus client library exports, under the
// names of client_golang's process collector, which memory and
// file-descriptor alerts are written against: process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes,
// process_open_fds, process_max_fds, process_start_time_seconds.
// prometheus-cpp has no process collector, so this reads /proc/self at
// scrape time (Linux only, as the bridge is).
//
//   ProcessMetrics process;
//   std::vector<prometheus::MetricFamily> families = process.Collect();
#pragma once

#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace hive::server {

class ProcessMetrics final : public prometheus::Collectable {
 public:
  // A family whose source cannot be read is left out, never reported as 0.
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace hive::server

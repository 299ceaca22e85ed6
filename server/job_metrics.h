// server/job_metrics.h
// Fleet jobs in /metrics (docs/metrics.md): hivebridge_jobs{state} (at work
// now), hivebridge_jobs_ended_total{state} and
// hivebridge_job_device_outcomes_total{status}, fed by the job engine.
#pragma once

#include <array>
#include <atomic>

#include "bridge/jobs/job_observer.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace hive::server {

class JobMetrics final : public JobObserver {
 public:
  // Registers the families in `registry`, which must outlive this.
  explicit JobMetrics(prometheus::Registry& registry);

  void Active(size_t running, size_t paused, size_t stopping) override;
  void Ended(hive::bridge::v1::JobState state) override;
  void DeviceSettled(hive::bridge::v1::RequestStatus status) override;

 private:
  // RequestStatus values.
  static constexpr size_t kStatuses = 9;

  prometheus::Gauge& running_;
  prometheus::Gauge& paused_;
  prometheus::Gauge& stopping_;
  prometheus::Family<prometheus::Counter>& ended_;
  prometheus::Family<prometheus::Counter>& outcomes_;
  std::array<std::atomic<prometheus::Counter*>, kStatuses> outcome_series_{};
};

}  // namespace hive::server

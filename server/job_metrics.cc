#include "server/job_metrics.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/strip.h"
#include "server/cached_series.h"
#include "server/request_labels.h"

namespace hive::server {
namespace {

prometheus::Family<prometheus::Gauge>& ActiveFamily(prometheus::Registry& registry) {
  return prometheus::BuildGauge()
      .Name("hivebridge_jobs")
      .Help(
          "Fleet jobs at work: running (sending), paused (between waves), stopping (aborted or cancelled, "
          "their requests in flight finishing).")
      .Register(registry);
}

}  // namespace

JobMetrics::JobMetrics(prometheus::Registry& registry)
    : running_(ActiveFamily(registry).Add({{"state", "running"}})),
      paused_(ActiveFamily(registry).Add({{"state", "paused"}})),
      stopping_(ActiveFamily(registry).Add({{"state", "stopping"}})),
      ended_(prometheus::BuildCounter()
                 .Name("hivebridge_jobs_ended_total")
                 .Help("Fleet jobs that ended, by how: completed, aborted (the abort rule) or cancelled.")
                 .Register(registry)),
      outcomes_(prometheus::BuildCounter()
                    .Name("hivebridge_job_device_outcomes_total")
                    .Help("Devices of fleet jobs that reached their outcome, by their request's status "
                          "(cancelled: skipped by an aborted or cancelled job).")
                    .Register(registry)) {
  for (const char* state : {"completed", "aborted", "cancelled"}) ended_.Add({{"state", state}});
}

void JobMetrics::Active(size_t running, size_t paused, size_t stopping) {
  running_.Set(static_cast<double>(running));
  paused_.Set(static_cast<double>(paused));
  stopping_.Set(static_cast<double>(stopping));
}

void JobMetrics::Ended(hive::bridge::v1::JobState state) {
  std::string name(absl::StripPrefix(hive::bridge::v1::JobState_Name(state), "JOB_STATE_"));
  absl::AsciiStrToLower(&name);
  ended_.Add({{"state", name}}).Increment();
}

void JobMetrics::DeviceSettled(hive::bridge::v1::RequestStatus status) {
  const auto s = static_cast<size_t>(status);
  if (s >= kStatuses) return;  // a status newer than this code: not counted
  CachedSeries(outcome_series_[s], outcomes_, [&] {
    return prometheus::Labels{{"status", RequestStatusName(status)}};
  }).Increment();
}

}  // namespace hive::server

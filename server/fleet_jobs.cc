#include "server/fleet_jobs.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/state/sqlite_db.h"

namespace hive::server {
namespace {

std::string UnavailableReason(const Config& config, bool cluster) {
  if (!cluster && config.state_dir.empty()) {
    return "fleet jobs need --state-dir: each device's command is a queued request, stored durably";
  }
  return "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<JobStore>> FleetJobs::OpenStore(const Config& config, bool cluster, const Clock& clock) {
  if (!UnavailableReason(config, cluster).empty()) return nullptr;
  // In cluster mode the jobs are the fleet's log on the broker; each replica
  // reads it from its start into a view, as the queue's.
  if (cluster) return JobStore::Open(":memory:", clock);
  absl::StatusOr<std::unique_ptr<JobStore>> store = JobStore::Open(StateDbPath(config.state_dir), clock);
  if (!store.ok()) return absl::Status(store.status().code(), absl::StrCat("--state-dir: ", store.status().message()));
  return store;
}

FleetJobs::FleetJobs(const Config& config, Deps deps, std::unique_ptr<JobStore> store)
    : view_(deps.fleet != nullptr ? *deps.fleet : deps.registry, deps.twins),
      joins_(view_),
      store_(deps.queue == nullptr ? nullptr : std::move(store)),
      sender_(store_ == nullptr
                  ? nullptr
                  : std::make_unique<QueueJobSender>(*deps.queue, *deps.deliverer,
                                                     deps.fleet != nullptr ? *deps.fleet : deps.registry)),
      engine_(store_ == nullptr
                  ? nullptr
                  : std::make_unique<JobEngine>(
                        *store_, *sender_, deps.hub, deps.clock,
                        JobEngine::Options{config.max_active_jobs, config.job_retention, deps.observer, deps.events,
                                           deps.log, deps.replica, &joins_, config.max_job_devices})),
      service_({config.max_job_devices, config.max_queue_ttl, UnavailableReason(config, deps.cluster), deps.limits},
               deps.clock, engine_.get(), view_, deps.access) {}

FleetJobs::~FleetJobs() { Stop(); }

absl::Status FleetJobs::Start() { return engine_ == nullptr ? absl::OkStatus() : engine_->Start(); }

void FleetJobs::Stop() {
  service_.BeginDrain();
  if (engine_ != nullptr) engine_->Stop();
}

}  // namespace hive::server

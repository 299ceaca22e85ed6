// server/fleet_jobs.h
// The bridge's fleet jobs put together (docs/jobs.md): the job store in the
// --state-dir database, the queue as the jobs' sender, the engine and the
// FleetJobs service. On one bridge jobs need the durable queue and the job
// store of --state-dir (without it the service answers FAILED_PRECONDITION
// saying why). In cluster mode the queue is the fleet's log on the broker,
// and the job store is this replica's in-memory view of the fleet's jobs
// log (docs/jobs.md, "In a cluster"): the bus feeds it (log_reader()).
//
//   absl::StatusOr<std::unique_ptr<JobStore>> store = FleetJobs::OpenStore(config, cluster, clock);
//   FleetJobs jobs(config, {...}, *std::move(store));
//   builder.RegisterService(&jobs.service());
//   jobs.Start();    // once the queue's deliverer runs
//   jobs.Stop();     // before the deliverer stops
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "bridge/clock.h"
#include "bridge/event_hub.h"
#include "bridge/jobs/job_engine.h"
#include "bridge/jobs/job_store.h"
#include "bridge/queue/queue_deliverer.h"
#include "bridge/queue/request_queue.h"
#include "server/backend_access.h"
#include "server/config.h"
#include "server/device_view.h"
#include "server/fleet_jobs_service.h"
#include "server/job_selection.h"
#include "server/queue_job_sender.h"

namespace hive::server {

class FleetJobs {
 public:
  struct Deps {
    bool cluster = false;
    // Null without --state-dir.
    RequestQueue* queue = nullptr;
    QueueDeliverer* deliverer = nullptr;
    EventHub& hub;
    SessionRegistry& registry;
    const TwinStore& twins;
    const BackendAccess& access;
    const Clock& clock;
    // /metrics' job families; may be null.
    JobObserver* observer = nullptr;
    // Where job-outcome events go; may be null.
    EventSink* events = nullptr;
    // Cluster mode: the jobs log, this replica's id, and the fleet's devices
    // (a job's device connected to any replica is being delivered to).
    JobLog* log = nullptr;
    std::string replica;
    const SessionRegistry* fleet = nullptr;
    // Where StartJob's limit refusals are counted; may be null.
    LimitCounters* limits = nullptr;
  };

  // The job store when jobs can run (else null).
  static absl::StatusOr<std::unique_ptr<JobStore>> OpenStore(const Config& config, bool cluster, const Clock& clock);

  // `store` null: jobs are off (the service says why).
  FleetJobs(const Config& config, Deps deps, std::unique_ptr<JobStore> store);
  ~FleetJobs();
  FleetJobs(const FleetJobs&) = delete;
  FleetJobs& operator=(const FleetJobs&) = delete;

  FleetJobsService& service() { return service_; }
  // Resumes the unfinished jobs.
  absl::Status Start();
  // New calls are refused; the engine stops (running jobs resume at the next start).
  void Stop();

  // Cluster mode: what the bus feeds the jobs log to (null when jobs are off).
  JobLogReader* log_reader() { return engine_.get(); }
  // Cluster mode: the view has caught up with the jobs log (always true
  // otherwise).
  bool caught_up() const { return engine_ == nullptr || engine_->caught_up(); }

 private:
  // The fleet's devices as ListDevices shows them (in cluster mode, every
  // replica's), for StartJob's selection and include_joining.
  DeviceView view_;
  SelectorJoins joins_;
  std::unique_ptr<JobStore> store_;
  std::unique_ptr<QueueJobSender> sender_;
  std::unique_ptr<JobEngine> engine_;
  FleetJobsService service_;
};

}  // namespace hive::server

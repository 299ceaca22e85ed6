// server/fleet_jobs_service.h
// The FleetJobs gRPC service (proto/hive/bridge/v1/jobs.proto, docs/jobs.md)
// on the callback API: StartJob selects the devices and hands the job to the
// JobEngine; GetJob, ListJobs and CancelJob ask it; WatchJob streams the
// job's changes from its stored history (watch_job_call.h). A caller
// restricted by the backend policy sees only the jobs of its accounts.
#pragma once

#include <cstddef>
#include <string>

#include "absl/time/time.h"
#include "bridge/clock.h"
#include "bridge/jobs/job_engine.h"
#include "bridge/limit_counters.h"
#include "hive/bridge/v1/jobs.grpc.pb.h"
#include "server/backend_access.h"
#include "server/device_view.h"

namespace hive::server {

class FleetJobsService final : public hive::bridge::v1::FleetJobs::CallbackService {
 public:
  struct Options {
    size_t max_job_devices = 100'000;
    absl::Duration max_queue_ttl = absl::Hours(24 * 7);
    // Why jobs are off when `engine` is null (the FAILED_PRECONDITION message).
    std::string unavailable_reason;
    // Where --max-job-devices and --max-active-jobs refusals are counted; may be null.
    LimitCounters* limits = nullptr;
  };

  // `engine` null: every call is FAILED_PRECONDITION with the reason.
  FleetJobsService(Options options, const Clock& clock, JobEngine* engine, const DeviceView& view,
                   const BackendAccess& access);

  void BeginDrain() { draining_ = true; }

  grpc::ServerUnaryReactor* StartJob(grpc::CallbackServerContext* context,
                                     const hive::bridge::v1::StartJobRequest* request,
                                     hive::bridge::v1::StartJobResponse* response) override;
  grpc::ServerUnaryReactor* GetJob(grpc::CallbackServerContext* context, const hive::bridge::v1::GetJobRequest* request,
                                   hive::bridge::v1::GetJobResponse* response) override;
  grpc::ServerUnaryReactor* ListJobs(grpc::CallbackServerContext* context,
                                     const hive::bridge::v1::ListJobsRequest* request,
                                     hive::bridge::v1::ListJobsResponse* response) override;
  grpc::ServerUnaryReactor* CancelJob(grpc::CallbackServerContext* context,
                                      const hive::bridge::v1::CancelJobRequest* request,
                                      hive::bridge::v1::CancelJobResponse* response) override;
  grpc::ServerWriteReactor<hive::bridge::v1::WatchJobResponse>* WatchJob(
      grpc::CallbackServerContext* context, const hive::bridge::v1::WatchJobRequest* request) override;

 private:
  absl::StatusOr<hive::bridge::v1::StartJobResponse> Start(const hive::bridge::v1::StartJobRequest& request,
                                                           const std::optional<BackendGrant>& grant);
  // The job if `grant` may see it; NOT_FOUND otherwise, as for an unknown id.
  absl::StatusOr<Job> Visible(const std::string& job_id, const std::optional<BackendGrant>& grant);
  absl::Status Available() const;

  const Options options_;
  const Clock& clock_;
  JobEngine* const engine_;
  const DeviceView& view_;
  const BackendAccess& access_;
  std::atomic<bool> draining_{false};
};

}  // namespace hive::server

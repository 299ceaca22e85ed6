#include "tests/integration/support/job_calls.h"

#include <memory>

#include "bridge/uuid.h"
#include "tests/integration/support/grpc_calls.h"

namespace hive::integration {

using hive::bridge::v1::FleetJobs;
using hive::bridge::v1::Job;

hive::bridge::v1::StartJobRequest StopJobRequest(const std::string& account_id, double rate) {
  hive::bridge::v1::StartJobRequest request;
  request.mutable_target()->mutable_selector()->set_account_id(account_id);
  request.mutable_command()->mutable_scheduler_action()->set_action(hive::bridge::v1::SchedulerAction::ACTION_STOP);
  request.mutable_command()->mutable_scheduler_action()->set_instance(NewUuid());
  request.mutable_queue_ttl()->set_seconds(600);
  request.mutable_rollout()->set_max_rate(rate);
  return request;
}

grpc::Status StartJob(FleetJobs::Stub& jobs, const hive::bridge::v1::StartJobRequest& request,
                      hive::bridge::v1::StartJobResponse* response, absl::Duration deadline) {
  grpc::ClientContext context;
  SetDeadline(context, deadline);
  return jobs.StartJob(&context, request, response);
}

namespace {

// A call that names a job and answers with it (GetJob, CancelJob).
template <typename Request, typename Response, typename Method>
grpc::Status CallOnJob(FleetJobs::Stub& jobs, Method method, const std::string& job_id, Job* job,
                       absl::Duration deadline) {
  Request request;
  request.set_job_id(job_id);
  Response response;
  grpc::ClientContext context;
  SetDeadline(context, deadline);
  grpc::Status status = (jobs.*method)(&context, request, &response);
  *job = response.job();
  return status;
}

}  // namespace

grpc::Status GetJob(FleetJobs::Stub& jobs, const std::string& job_id, Job* job) {
  return CallOnJob<hive::bridge::v1::GetJobRequest, hive::bridge::v1::GetJobResponse>(jobs, &FleetJobs::Stub::GetJob,
                                                                                      job_id, job, absl::Seconds(5));
}

grpc::Status CancelJob(FleetJobs::Stub& jobs, const std::string& job_id, Job* job) {
  return CallOnJob<hive::bridge::v1::CancelJobRequest, hive::bridge::v1::CancelJobResponse>(
      jobs, &FleetJobs::Stub::CancelJob, job_id, job, absl::Seconds(15));
}

std::vector<hive::bridge::v1::WatchJobResponse> WatchJobToEnd(FleetJobs::Stub& jobs, const std::string& job_id,
                                                              uint64_t resume_after, grpc::Status* end,
                                                              absl::Duration deadline) {
  hive::bridge::v1::WatchJobRequest request;
  request.set_job_id(job_id);
  request.set_resume_after(resume_after);
  grpc::ClientContext context;
  SetDeadline(context, deadline);
  std::unique_ptr<grpc::ClientReader<hive::bridge::v1::WatchJobResponse>> reader = jobs.WatchJob(&context, request);
  std::vector<hive::bridge::v1::WatchJobResponse> changes;
  hive::bridge::v1::WatchJobResponse change;
  while (reader->Read(&change)) changes.push_back(change);
  *end = reader->Finish();
  return changes;
}

}  // namespace hive::integration

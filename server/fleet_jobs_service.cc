#include "server/fleet_jobs_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/jobs/wave_plan.h"
#include "bridge/uuid.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "server/grpc_status.h"
#include "server/job_selection.h"
#include "server/job_spec.h"
#include "server/watch_job_call.h"

namespace hive::server {
namespace {

using google::protobuf::util::TimeUtil;
using hive::bridge::v1::StartJobRequest;
using hive::bridge::v1::StartJobResponse;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;

absl::StatusOr<std::string> JobIdOf(const std::string& job_id) {
  if (!IsUuid(job_id)) return absl::InvalidArgumentError(absl::StrCat("job_id: \"", job_id, "\" is not a UUID"));
  return CanonicalUuid(job_id);
}

bool MaySee(const std::optional<BackendGrant>& grant, const Job& job) {
  return !grant.has_value() || grant->all_accounts() || (!job.account_id().empty() && grant->Allows(job.account_id()));
}

// What a retry of StartJob must repeat: everything but dry_run.
bool SameSpec(StartJobRequest a, StartJobRequest b) {
  a.clear_dry_run();
  b.clear_dry_run();
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

}  // namespace

FleetJobsService::FleetJobsService(Options options, const Clock& clock, JobEngine* engine, const DeviceView& view,
                                   const BackendAccess& access)
    : options_(std::move(options)), clock_(clock), engine_(engine), view_(view), access_(access) {}

absl::Status FleetJobsService::Available() const {
  if (engine_ == nullptr) return absl::FailedPreconditionError(options_.unavailable_reason);
  if (draining_) return absl::UnavailableError("bridge is shutting down");
  return absl::OkStatus();
}

absl::StatusOr<Job> FleetJobsService::Visible(const std::string& job_id, const std::optional<BackendGrant>& grant) {
  absl::StatusOr<std::string> id = JobIdOf(job_id);
  if (!id.ok()) return id.status();
  absl::StatusOr<std::optional<Job>> job = engine_->Get(*id);
  if (!job.ok()) return job.status();
  if (!job->has_value() || !MaySee(grant, **job)) {
    return absl::NotFoundError(absl::StrCat("job ", job_id, " is not known"));
  }
  return **std::move(job);
}

absl::StatusOr<StartJobResponse> FleetJobsService::Start(const StartJobRequest& request,
                                                         const std::optional<BackendGrant>& grant) {
  if (absl::Status valid = ValidateStartJob(request, options_.max_queue_ttl); !valid.ok()) return valid;
  absl::StatusOr<JobSelection> selection = SelectJobDevices(view_, request.target(), grant, options_.max_job_devices);
  if (!selection.ok()) {
    // The selection's only RESOURCE_EXHAUSTED is its --max-job-devices.
    if (absl::IsResourceExhausted(selection.status())) CountIn(options_.limits, Limit::kMaxJobDevices);
    return selection.status();
  }
  if (absl::StatusOr<WavePlan> plan = WavePlan::Make(request.rollout().waves(), selection->device_ids.size());
      !plan.ok()) {
    return plan.status();
  }
  StartJobResponse response;
  Job& job = *response.mutable_job();
  job.set_job_id(request.job_id().empty() ? NewUuid() : CanonicalUuid(request.job_id()));
  *job.mutable_spec() = request;
  job.mutable_spec()->set_job_id(job.job_id());
  job.mutable_spec()->clear_dry_run();
  *job.mutable_created_at() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock_.Now()));
  job.set_account_id(selection->account_id);
  job.mutable_counters()->set_selected(static_cast<int64_t>(selection->device_ids.size()));
  job.mutable_counters()->set_pending(job.counters().selected());
  if (request.dry_run()) {
    for (std::string& id : selection->device_ids) response.add_device_ids(std::move(id));
    return response;
  }
  job.set_state(hive::bridge::v1::JOB_STATE_RUNNING);
  absl::StatusOr<JobStore::Created> created = engine_->StartJob(job, selection->device_ids);
  if (!created.ok()) {
    // The engine's only RESOURCE_EXHAUSTED is its --max-active-jobs.
    if (absl::IsResourceExhausted(created.status())) CountIn(options_.limits, Limit::kMaxActiveJobs);
    return created.status();
  }
  if (!created->inserted && (!MaySee(grant, created->job) || !SameSpec(created->job.spec(), job.spec()))) {
    return absl::AlreadyExistsError(absl::StrCat("job_id ", job.job_id(),
                                                 " already names another job; a retry must repeat the request "
                                                 "exactly, a new job needs a new job_id"));
  }
  job = created->job;
  return response;
}

grpc::ServerUnaryReactor* FleetJobsService::StartJob(grpc::CallbackServerContext* context,
                                                     const StartJobRequest* request, StartJobResponse* response) {
  if (absl::Status available = Available(); !available.ok()) return FinishNow(context, available);
  absl::StatusOr<std::optional<BackendGrant>> grant = access_.Admit(*context);
  if (!grant.ok()) return FinishNow(context, grant.status());
  absl::StatusOr<StartJobResponse> started = Start(*request, *grant);
  if (!started.ok()) return FinishNow(context, started.status());
  *response = *std::move(started);
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* FleetJobsService::GetJob(grpc::CallbackServerContext* context,
                                                   const hive::bridge::v1::GetJobRequest* request,
                                                   hive::bridge::v1::GetJobResponse* response) {
  if (engine_ == nullptr) return FinishNow(context, Available());
  absl::StatusOr<std::optional<BackendGrant>> grant = access_.Admit(*context);
  if (!grant.ok()) return FinishNow(context, grant.status());
  absl::StatusOr<Job> job = Visible(request->job_id(), *grant);
  if (!job.ok()) return FinishNow(context, job.status());
  *response->mutable_job() = *std::move(job);
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* FleetJobsService::ListJobs(grpc::CallbackServerContext* context,
                                                     const hive::bridge::v1::ListJobsRequest* request,
                                                     hive::bridge::v1::ListJobsResponse* response) {
  if (engine_ == nullptr) return FinishNow(context, Available());
  absl::StatusOr<std::optional<BackendGrant>> grant = access_.Admit(*context);
  if (!grant.ok()) return FinishNow(context, grant.status());
  if (request->page_size() < 0 || request->page_size() > kMaxPageSize) {
    return FinishNow(context, absl::InvalidArgumentError(
                                  absl::StrCat("page_size: ", request->page_size(), "; at most ", kMaxPageSize)));
  }
  for (int state : request->states()) {
    if (!hive::bridge::v1::JobState_IsValid(state)) {
      return FinishNow(context, absl::InvalidArgumentError(absl::StrCat("states: unknown state ", state)));
    }
  }
  const std::optional<BackendGrant>& caller = *grant;
  auto keep = [&caller, request](const Job& job) {
    if (!MaySee(caller, job)) return false;
    if (request->states().empty()) return true;
    for (int state : request->states()) {
      if (state == job.state()) return true;
    }
    return false;
  };
  const size_t limit = request->page_size() == 0 ? kDefaultPageSize : static_cast<size_t>(request->page_size());
  absl::StatusOr<JobStore::Page> page = engine_->List(request->page_token(), limit, keep);
  if (!page.ok()) return FinishNow(context, page.status());
  for (Job& job : page->jobs) *response->add_jobs() = engine_->AsItStands(std::move(job));
  response->set_next_page_token(page->next_page_token);
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* FleetJobsService::CancelJob(grpc::CallbackServerContext* context,
                                                      const hive::bridge::v1::CancelJobRequest* request,
                                                      hive::bridge::v1::CancelJobResponse* response) {
  if (absl::Status available = Available(); !available.ok()) return FinishNow(context, available);
  absl::StatusOr<std::optional<BackendGrant>> grant = access_.Admit(*context);
  if (!grant.ok()) return FinishNow(context, grant.status());
  absl::StatusOr<Job> job = Visible(request->job_id(), *grant);
  if (!job.ok()) return FinishNow(context, job.status());
  const std::string who = grant->has_value() ? (*grant)->caller() : "an unauthenticated caller";
  absl::StatusOr<Job> cancelled = engine_->Cancel(job->job_id(), absl::StrCat("cancelled by ", who));
  if (!cancelled.ok()) return FinishNow(context, cancelled.status());
  *response->mutable_job() = *std::move(cancelled);
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerWriteReactor<hive::bridge::v1::WatchJobResponse>* FleetJobsService::WatchJob(
    grpc::CallbackServerContext* context, const hive::bridge::v1::WatchJobRequest* request) {
  absl::StatusOr<Job> job = [&]() -> absl::StatusOr<Job> {
    if (engine_ == nullptr) return Available();
    absl::StatusOr<std::optional<BackendGrant>> grant = access_.Admit(*context);
    if (!grant.ok()) return grant.status();
    return Visible(request->job_id(), *grant);
  }();
  if (!job.ok()) return RejectWatchJob(job.status());
  return StartWatchJob(*context, *engine_, job->job_id(), request->resume_after());
}

}  // namespace hive::server

// The JobEngine's cluster mode (job_engine.h, docs/jobs.md "In a cluster"):
// applying the jobs log to this replica's view, StartJob and CancelJob as
// operations of the log, and the leases: taking over the jobs of a replica
// that is gone, and stopping to drive a job whose lease another replica took.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/jobs/job_engine.h"
#include "bridge/log.h"
#include "bridge/status_macros.h"
#include "bridge/uuid.h"

namespace hive {
namespace {

// How long StartJob and CancelJob wait for their operation to come back
// (CancelJob: and for the job's holder to acknowledge it).
constexpr absl::Duration kOpTimeout = absl::Seconds(10);
// How often the engine looks for jobs whose holder is gone.
constexpr absl::Duration kClusterTick = absl::Milliseconds(250);
// A marker not read back in this long is appended again.
constexpr absl::Duration kRemarkAfter = absl::Seconds(5);
// After catching up (or the broker coming back), how long a replica waits
// before it judges others gone: its fleet directory first has to hear their
// heartbeats (every second; a replica silent for 5 s is dropped).
constexpr absl::Duration kTakeoverGrace = absl::Seconds(6);
// A lease asked for and not won is asked for again after this long.
constexpr absl::Duration kReproposeAfter = absl::Seconds(5);

}  // namespace

bool JobEngine::caught_up() const {
  if (!clustered()) return true;
  absl::MutexLock lock(&mu_);
  return caught_up_;
}

std::shared_ptr<JobEngine::OpWaiter> JobEngine::Expect(const std::string& op_id, const std::string& job_id) {
  auto waiter = std::make_shared<OpWaiter>();
  waiter->job_id = job_id;
  absl::MutexLock lock(&mu_);
  op_waiters_[op_id] = waiter;
  return waiter;
}

void JobEngine::Resolve(const std::string& op_id, absl::StatusOr<JobStore::Created> created) {
  std::shared_ptr<OpWaiter> waiter;
  {
    absl::MutexLock lock(&mu_);
    auto it = op_waiters_.find(op_id);
    if (it == op_waiters_.end()) return;
    waiter = std::move(it->second);
    op_waiters_.erase(it);
  }
  waiter->created = std::move(created);
  waiter->done.Notify();
}

absl::Status JobEngine::AppendAndWait(const JobOp& op, const std::shared_ptr<OpWaiter>& waiter,
                                      absl::string_view what) {
  if (!options_.log->AppendJobOp(op)) {
    absl::MutexLock lock(&mu_);
    op_waiters_.erase(op.id);
    return absl::UnavailableError("the jobs log is unreachable (the message broker is away); try again");
  }
  if (waiter->done.WaitForNotificationWithTimeout(kOpTimeout)) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  op_waiters_.erase(op.id);
  return absl::UnavailableError(absl::StrCat("job ", op.job_id, ": ", what));
}

absl::StatusOr<JobStore::Created> JobEngine::StartInCluster(const Job& job,
                                                            const std::vector<std::string>& device_ids) {
  if (!caught_up()) {
    return absl::UnavailableError(
        "this replica is still reading the jobs log; try again shortly or on another replica");
  }
  absl::StatusOr<std::optional<Job>> existing = store_.Get(job.job_id());
  if (!existing.ok()) return existing.status();
  // Fleet-wide: every replica's view has every unfinished job.
  if (!existing->has_value() && leases_.unfinished() >= options_.max_active_jobs) {
    return absl::ResourceExhaustedError(absl::StrCat("--max-active-jobs (", options_.max_active_jobs,
                                                     ") jobs are running in the cluster; wait for one to end or "
                                                     "cancel one"));
  }
  JobOp op;
  op.kind = JobOp::Kind::kStart;
  op.id = NewUuid();
  op.replica = options_.replica;
  op.job_id = job.job_id();
  op.job = job;
  op.job.set_replica(options_.replica);
  op.device_ids = device_ids;
  std::shared_ptr<OpWaiter> waiter = Expect(op.id, op.job_id);
  HIVE_RETURN_IF_ERROR(AppendAndWait(
      op, waiter,
      "the start did not come back from the jobs log in 10 s; it may still take effect (a retry with the same "
      "request is answered with the job)"));
  return waiter->created;
}

absl::StatusOr<Job> JobEngine::CancelInCluster(const std::string& job_id, const std::string& reason) {
  if (!caught_up()) {
    return absl::UnavailableError(
        "this replica is still reading the jobs log; try again shortly or on another replica");
  }
  JobOp op;
  op.kind = JobOp::Kind::kCancel;
  op.id = NewUuid();
  op.replica = options_.replica;
  op.job_id = job_id;
  op.reason = reason;
  std::shared_ptr<OpWaiter> waiter = Expect(op.id, job_id);
  HIVE_RETURN_IF_ERROR(AppendAndWait(op, waiter,
                                     "the cancel is in the jobs log, but no replica driving the job confirmed it in "
                                     "10 s; it takes effect when one drives the job (see GetJob)"));
  absl::StatusOr<std::optional<Job>> job = Get(job_id);
  if (!job.ok()) return job.status();
  if (!job->has_value()) return absl::NotFoundError(absl::StrCat("job ", job_id, " is not known"));
  return **job;
}

void JobEngine::ApplyJobOp(const JobOp& op) {
  switch (op.kind) {
    case JobOp::Kind::kStart:
      return ApplyStart(op);
    case JobOp::Kind::kLease:
      return ApplyLease(op);
    case JobOp::Kind::kAdvance:
    case JobOp::Kind::kRecord:
    case JobOp::Kind::kJoin:
      return ApplyRecord(op);
    case JobOp::Kind::kCancel:
      return ApplyCancel(op);
    case JobOp::Kind::kMarker:
      return ApplyMarker(op);
  }
}

void JobEngine::ApplyStart(const JobOp& op) {
  absl::StatusOr<JobStore::Created> created = store_.Create(op.job, op.device_ids);
  if (created.ok() && created->inserted) {
    leases_.Started(op.job_id, op.replica);
    bool live = false;
    {
      absl::MutexLock lock(&mu_);
      live = caught_up_;
    }
    if (live && op.replica == options_.replica) {
      Log(LogLevel::kInfo, "job_started",
          {{"job", op.job_id}, {"devices", op.device_ids.size()}, {"account", op.job.account_id()}});
      std::vector<JobStore::Member> members;
      members.reserve(op.device_ids.size());
      for (const std::string& id : op.device_ids) members.push_back({id, hive::bridge::v1::REQUEST_STATUS_UNSPECIFIED});
      Post([this, loaded = JobStore::Unfinished{op.job, 0, std::move(members), 0}]() mutable {
        Adopt(std::move(loaded), /*fresh=*/true);
      });
    }
  } else if (!created.ok()) {
    Log(LogLevel::kError, "job_view_failed", {{"job", op.job_id}, {"error", created.status().message()}});
  }
  Resolve(op.id, std::move(created));
}

void JobEngine::ApplyLease(const JobOp& op) {
  const std::optional<JobLeases::Lease> before = leases_.Of(op.job_id);
  // The first operation for the next term wins; later ones for it lose.
  if (!leases_.Take(op.job_id, op.replica, op.term)) return;
  bool live = false;
  {
    absl::MutexLock lock(&mu_);
    live = caught_up_;
  }
  if (!live) return;
  Log(LogLevel::kInfo, "job_lease_taken",
      {{"job", op.job_id},
       {"replica", op.replica},
       {"term", op.term},
       {"from", before.has_value() ? before->holder : std::string("-")}});
  if (op.replica == options_.replica) {
    Post([this, job_id = op.job_id]() { TakeOver(job_id); });
  } else if (before.has_value() && before->holder == options_.replica) {
    Post([this, job_id = op.job_id]() { Release(job_id); });
  }
}

void JobEngine::ApplyRecord(const JobOp& op) {
  // A replica that lost the lease and has not noticed yet changes nothing.
  if (!leases_.Current(op.job_id, op.term)) return;
  if (op.kind == JobOp::Kind::kAdvance || op.kind == JobOp::Kind::kJoin) {
    absl::Status stored = op.kind == JobOp::Kind::kAdvance ? store_.Advance(op.job, op.next_index)
                                                           : store_.Join(op.job, op.next_index, op.device_ids);
    if (!stored.ok()) Log(LogLevel::kError, "job_view_failed", {{"job", op.job_id}, {"error", stored.message()}});
    return;
  }
  if (absl::Status stored = store_.Record(op.change.job(), op.index, op.status, op.change); !stored.ok()) {
    Log(LogLevel::kError, "job_view_failed", {{"job", op.job_id}, {"error", stored.message()}});
    return;
  }
  if (op.change.job().has_ended_at()) {
    leases_.Ended(op.job_id);
    // Nothing more is sent for it: its cancels are answered.
    std::vector<std::string> answered;
    {
      absl::MutexLock lock(&mu_);
      cancels_.erase(op.job_id);
      for (const auto& [id, waiter] : op_waiters_) {
        if (waiter->job_id == op.job_id) answered.push_back(id);
      }
    }
    for (const std::string& id : answered) Resolve(id, JobStore::Created{});
  }
  if (op.change.job().has_spec()) {
    // From a replica of before the changes left the spec out.
    WatchJobResponse lean = op.change;
    lean.mutable_job()->clear_spec();
    return Notify(lean);
  }
  Notify(op.change);
}

void JobEngine::ApplyCancel(const JobOp& op) {
  const std::optional<JobLeases::Lease> lease = leases_.Of(op.job_id);
  // Unknown or ended: there is nothing to stop.
  if (!lease.has_value()) return Resolve(op.id, JobStore::Created{});
  bool live = false;
  {
    absl::MutexLock lock(&mu_);
    cancels_[op.job_id].emplace_back(op.id, op.reason);
    live = caught_up_;
  }
  if (live && lease->holder == options_.replica) Post([this, job_id = op.job_id]() { CancelHere(job_id); });
}

void JobEngine::ApplyMarker(const JobOp& op) {
  if (!op.acknowledges.empty()) {
    {
      absl::MutexLock lock(&mu_);
      for (auto& [job_id, pending] : cancels_) {
        pending.erase(std::remove_if(pending.begin(), pending.end(),
                                     [&](const auto& cancel) { return cancel.first == op.acknowledges; }),
                      pending.end());
      }
    }
    Resolve(op.acknowledges, JobStore::Created{});
  }
  if (op.replica != options_.replica) return;
  bool now_caught_up = false;
  {
    absl::MutexLock lock(&mu_);
    now_caught_up = !caught_up_ && op.id == marker_id_;
    if (now_caught_up) caught_up_ = true;
  }
  if (!now_caught_up) return;
  // Held by this replica's id now, in log order: jobs it drove before it
  // restarted (this run could start none before catching up).
  Post([this, former = leases_.HeldBy(options_.replica)]() { CaughtUp(former); });
}

void JobEngine::CaughtUp(const std::vector<std::string>& former) {
  caught_up_at_ = clock_.Now();
  Log(LogLevel::kInfo, "jobs_caught_up", {{"unfinished", leases_.unfinished()}, {"held_before", former.size()}});
  // It takes them again under a new term, which fences off anything its
  // former self may still have had in flight.
  for (const std::string& job_id : former) {
    std::optional<JobLeases::Lease> lease = leases_.Of(job_id);
    if (lease.has_value() && lease->holder == options_.replica) ProposeLease(job_id, lease->term + 1);
  }
}

void JobEngine::ClusterTick() {
  const absl::Time now = clock_.Now();
  if (now - cluster_ticked_at_ < kClusterTick) return;
  cluster_ticked_at_ = now;
  bool up = false;
  {
    absl::MutexLock lock(&mu_);
    up = caught_up_;
  }
  if (!up) {
    if (now - marker_sent_at_ < kRemarkAfter) return;
    JobOp marker;
    marker.kind = JobOp::Kind::kMarker;
    marker.id = NewUuid();
    marker.replica = options_.replica;
    {
      absl::MutexLock lock(&mu_);
      marker_id_ = marker.id;
    }
    if (options_.log->AppendJobOp(marker)) marker_sent_at_ = now;
    return;
  }
  // Away from the broker the fleet directory heard no one: judge no replica
  // gone until it has heard them again.
  if (!options_.log->connected()) caught_up_at_ = now;
  if (now - caught_up_at_ < kTakeoverGrace) return;
  const std::vector<std::pair<std::string, uint64_t>> orphaned = leases_.Orphaned(
      options_.replica, [this](const std::string& replica) { return options_.log->ReplicaAlive(replica); });
  for (const auto& [job_id, term] : orphaned) ProposeLease(job_id, term);
}

void JobEngine::ProposeLease(const std::string& job_id, uint64_t term) {
  const absl::Time now = clock_.Now();
  auto it = proposed_.find(job_id);
  if (it != proposed_.end() && it->second.first == term && now - it->second.second < kReproposeAfter) return;
  JobOp op;
  op.kind = JobOp::Kind::kLease;
  op.id = NewUuid();
  op.replica = options_.replica;
  op.job_id = job_id;
  op.term = term;
  if (!options_.log->AppendJobOp(op)) return;
  proposed_[job_id] = {term, now};
  Log(LogLevel::kInfo, "job_lease_asked", {{"job", job_id}, {"term", term}});
}

void JobEngine::TakeOver(const std::string& job_id) {
  proposed_.erase(job_id);
  if (runners_.contains(job_id)) return;
  absl::StatusOr<std::optional<JobStore::Unfinished>> loaded = store_.LoadUnfinished(job_id);
  if (!loaded.ok()) {
    Log(LogLevel::kError, "job_not_resumed", {{"job", job_id}, {"error", loaded.status().message()}});
    return;
  }
  if (!loaded->has_value()) return;
  Log(LogLevel::kInfo, "job_taken_over", {{"job", job_id}, {"next_index", (*loaded)->next_index}});
  Adopt(**std::move(loaded), /*fresh=*/false);
}

void JobEngine::Release(const std::string& job_id) {
  if (runners_.erase(job_id) == 0) return;
  Log(LogLevel::kWarn, "job_lease_lost", {{"job", job_id}});
  absl::MutexLock lock(&mu_);
  active_.erase(job_id);
}

void JobEngine::CancelHere(const std::string& job_id) {
  std::vector<std::pair<std::string, std::string>> pending;
  {
    absl::MutexLock lock(&mu_);
    auto it = cancels_.find(job_id);
    if (it == cancels_.end() || it->second.empty()) return;
    pending = it->second;
  }
  const std::optional<JobLeases::Lease> lease = leases_.Of(job_id);
  if (lease.has_value() && lease->holder != options_.replica) return;
  auto runner = runners_.find(job_id);
  // Not driven here yet: TakeOver comes back here once it is.
  if (runner == runners_.end() && lease.has_value()) return;
  for (const auto& [cancel_id, reason] : pending) {
    // When Cancel returns, the stop is in the log and the job's queued
    // requests are cancelled: the acknowledgement follows both.
    if (runner != runners_.end()) runner->second->Cancel(reason);
    JobOp ack;
    ack.kind = JobOp::Kind::kMarker;
    ack.id = NewUuid();
    ack.replica = options_.replica;
    ack.acknowledges = cancel_id;
    if (!options_.log->AppendJobOp(ack)) {
      Log(LogLevel::kWarn, "job_cancel_unacknowledged", {{"job", job_id}, {"reason", "the jobs log is unreachable"}});
    }
  }
}

}  // namespace hive

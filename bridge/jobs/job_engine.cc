#include "bridge/jobs/job_engine.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "bridge/codec/device_event.h"
#include "bridge/jobs/job_status.h"
#include "bridge/log.h"

namespace hive {
namespace {

// The events the runners follow: the bridge's own request-outcome events
// (a device cannot send one: it is a bridge event type).
EventFilter OutcomeFilter() {
  hive::bridge::v1::SubscribeEventsRequest request;
  request.add_types("request-outcome");
  return EventFilter::FromRequest(request);
}

}  // namespace

JobEngine::Watch::~Watch() { engine_->Unwatch(id_); }

JobEngine::JobEngine(JobStore& store, JobSender& sender, EventHub& hub, const Clock& clock, Options options)
    : store_(store),
      sender_(sender),
      hub_(hub),
      clock_(clock),
      options_(std::move(options)),
      log_journal_(options_.log == nullptr
                       ? nullptr
                       : std::make_unique<JobLogJournal>(*options_.log, leases_, options_.replica)) {}

JobEngine::~JobEngine() { Stop(); }

absl::Status JobEngine::Start() {
  absl::StatusOr<std::vector<JobStore::Unfinished>> unfinished = store_.LoadUnfinished();
  if (!unfinished.ok()) return unfinished.status();
  // Subscribed before the runners read back what they sent, so an outcome
  // published in between is not missed (a repeated one changes nothing).
  outcomes_ = hub_.Subscribe(OutcomeFilter(), std::nullopt, [this] { Post([this]() { DrainOutcomes(); }); });
  // In cluster mode the leases say which jobs this replica drives, once its
  // view has caught up with the log (CaughtUp).
  if (clustered()) unfinished->clear();
  for (JobStore::Unfinished& job : *unfinished) {
    Post([this, job = std::move(job)]() mutable { Adopt(std::move(job), /*fresh=*/false); });
  }
  Post([this]() { DrainOutcomes(); });
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void JobEngine::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  outcomes_.reset();
  joins_.reset();
}

void JobEngine::Post(Task task) {
  absl::MutexLock lock(&mu_);
  tasks_.push_back(std::move(task));
}

void JobEngine::Run() {
  while (true) {
    std::vector<Task> tasks;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !tasks_.empty() || clock_.Now() >= next_tick_;
      };
      // The clock may be a test's: wake at least every tick to look at it.
      mu_.AwaitWithDeadline(absl::Condition(&ready), std::min(next_tick_, absl::Now() + JobRunner::kTick));
      if (stopping_) return;
      tasks.swap(tasks_);
    }
    for (Task& task : tasks) std::move(task)();
    Tick();
  }
}

void JobEngine::Adopt(JobStore::Unfinished loaded, bool fresh) {
  const std::string job_id = loaded.job.job_id();
  if (clustered()) {
    // The lease may have moved on since this was posted.
    std::optional<JobLeases::Lease> lease = leases_.Of(job_id);
    if (!lease.has_value() || lease->holder != options_.replica || runners_.contains(job_id)) return;
    loaded.job.set_replica(options_.replica);
  }
  JobJournal& journal = clustered() ? static_cast<JobJournal&>(*log_journal_) : store_;
  absl::StatusOr<std::unique_ptr<JobRunner>> runner =
      JobRunner::Make({journal, sender_, clock_, [this](const WatchJobResponse& change) { Publish(change); },
                       /*resend_unknown=*/clustered()},
                      std::move(loaded));
  if (!runner.ok()) {
    Log(LogLevel::kError, "job_not_resumed", {{"job", job_id}, {"error", runner.status().message()}});
    return;
  }
  if (fresh) (*runner)->Announce();
  if (absl::Status read_back = (*runner)->Reconcile(); !read_back.ok()) {
    Log(LogLevel::kWarn, "job_reconcile_failed", {{"job", job_id}, {"error", read_back.message()}});
  }
  // A job taken over says so in its history: its `replica` is this one now.
  if (clustered() && !fresh) (*runner)->Announce();
  {
    absl::MutexLock lock(&mu_);
    active_[job_id] = (*runner)->job();
  }
  JobRunner& adopted = *runner.value();
  runners_[job_id] = *std::move(runner);
  // Devices that came to match while no one drove it (or since StartJob
  // selected): read the selection again, once subscribed to what follows.
  if (adopted.joining() && !RefreshJoins()) Sweep(adopted);
  // Cancels that came while no one drove it.
  if (clustered()) CancelHere(job_id);
}

void JobEngine::DrainOutcomes() {
  if (outcomes_ == nullptr) return;
  bool missed = false;
  while (std::shared_ptr<const hive::bridge::v1::DeviceEvent> event = outcomes_->Next()) {
    if (event->has_gap()) {
      missed = true;
      continue;
    }
    if (!event->has_request_outcome() || event->service() != "hive-backend") continue;
    const hive::bridge::v1::RequestOutcome& outcome = event->request_outcome();
    for (auto& [job_id, runner] : runners_) {
      if (runner->OnOutcome(outcome.request_id(), outcome.status(), outcome.error(), event->account_id())) break;
    }
  }
  // Outcomes were lost to the subscription's buffer: read them back.
  if (missed) {
    for (auto& [job_id, runner] : runners_) (void)runner->Reconcile();
  }
}

void JobEngine::Tick() {
  if (clustered()) ClusterTick();
  // Ended jobs past --job-retention go, every few minutes.
  if (clock_.Now() - cleaned_at_ >= absl::Minutes(5)) {
    cleaned_at_ = clock_.Now();
    if (absl::StatusOr<size_t> deleted = store_.DeleteEnded(options_.retention); !deleted.ok()) {
      Log(LogLevel::kWarn, "job_cleanup_failed", {{"error", deleted.status().message()}});
    }
  }
  absl::Time next = absl::InfiniteFuture();
  size_t running = 0;
  size_t paused = 0;
  size_t stopping = 0;
  for (auto it = runners_.begin(); it != runners_.end();) {
    JobRunner& runner = *it->second;
    next = std::min(next, runner.Tick());
    absl::MutexLock lock(&mu_);
    if (runner.ended()) {
      if (options_.observer != nullptr) options_.observer->Ended(runner.job().state());
      active_.erase(it->first);
      runners_.erase(it++);
      continue;
    }
    active_[it->first] = runner.job();
    const JobState state = runner.job().state();
    ++(state == hive::bridge::v1::JOB_STATE_RUNNING  ? running
       : state == hive::bridge::v1::JOB_STATE_PAUSED ? paused
                                                     : stopping);
    ++it;
  }
  if (options_.observer != nullptr) options_.observer->Active(running, paused, stopping);
  // A joining job that ended may leave the subscription with nothing to do
  // (a job that starts joining is adopted, which subscribes).
  if (joins_ != nullptr) RefreshJoins();
  absl::MutexLock lock(&mu_);
  next_tick_ = next;
}

absl::StatusOr<JobStore::Created> JobEngine::StartJob(const Job& job, const std::vector<std::string>& device_ids) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::UnavailableError("the bridge is shutting down");
    if (!clustered() && !active_.contains(job.job_id()) && active_.size() >= options_.max_active_jobs) {
      return absl::ResourceExhaustedError(absl::StrCat("--max-active-jobs (", options_.max_active_jobs,
                                                       ") jobs are running; wait for one to end or cancel one"));
    }
  }
  if (clustered()) return StartInCluster(job, device_ids);
  absl::StatusOr<JobStore::Created> created = store_.Create(job, device_ids);
  if (!created.ok() || !created->inserted) return created;
  Log(LogLevel::kInfo, "job_started",
      {{"job", job.job_id()}, {"devices", device_ids.size()}, {"account", job.account_id()}});
  std::vector<JobStore::Member> members;
  members.reserve(device_ids.size());
  for (const std::string& id : device_ids) members.push_back({id, hive::bridge::v1::REQUEST_STATUS_UNSPECIFIED});
  {
    absl::MutexLock lock(&mu_);
    active_[job.job_id()] = JobWithoutSpec(job);
  }
  Post([this, loaded = JobStore::Unfinished{job, 0, std::move(members), 0}]() mutable {
    Adopt(std::move(loaded), /*fresh=*/true);
  });
  return created;
}

std::optional<Job> JobEngine::Live(const std::string& job_id) const {
  absl::MutexLock lock(&mu_);
  if (auto it = active_.find(job_id); it != active_.end()) return it->second;
  return std::nullopt;
}

Job JobEngine::AsItStands(Job stored) const {
  if (std::optional<Job> live = Live(stored.job_id()); live.has_value()) {
    live->mutable_spec()->Swap(stored.mutable_spec());
    return *std::move(live);
  }
  if (clustered()) {
    if (std::optional<JobLeases::Lease> lease = leases_.Of(stored.job_id())) stored.set_replica(lease->holder);
  }
  return stored;
}

absl::StatusOr<std::optional<Job>> JobEngine::Get(const std::string& job_id) {
  absl::StatusOr<std::optional<Job>> stored = store_.Get(job_id);
  if (!stored.ok() || !stored->has_value()) return stored;
  return std::optional<Job>(AsItStands(**std::move(stored)));
}

absl::StatusOr<Job> JobEngine::Cancel(const std::string& job_id, const std::string& reason) {
  absl::StatusOr<std::optional<Job>> known = Get(job_id);
  if (!known.ok()) return known.status();
  if (!known->has_value()) return absl::NotFoundError(absl::StrCat("job ", job_id, " is not known"));
  if (JobEnded((*known)->state())) return **known;
  if (clustered()) return CancelInCluster(job_id, reason);
  // On the engine's thread, so that once this returns no runner step sends
  // again; waits for it.
  struct Done {
    absl::Notification notification;
    absl::StatusOr<Job> job = absl::NotFoundError("");
  };
  auto done = std::make_shared<Done>();
  Post([this, job_id, reason, done]() {
    auto it = runners_.find(job_id);
    if (it == runners_.end()) {
      absl::StatusOr<std::optional<Job>> stored = store_.Get(job_id);
      done->job = stored.ok() && stored->has_value() ? absl::StatusOr<Job>(**stored)
                                                     : absl::StatusOr<Job>(absl::NotFoundError(""));
    } else {
      it->second->Cancel(reason);
      done->job = it->second->job();
    }
    done->notification.Notify();
  });
  if (!done->notification.WaitForNotificationWithTimeout(absl::Seconds(10))) {
    return absl::UnavailableError(absl::StrCat("job ", job_id, ": the job engine did not answer in 10 s"));
  }
  // A runner's job is without its spec: the one stored at the start.
  if (done->job.ok() && !done->job->has_spec()) {
    absl::StatusOr<std::optional<Job>> stored = store_.Get(job_id);
    if (!stored.ok()) return stored.status();
    if (stored->has_value()) *done->job->mutable_spec() = std::move(*(*stored)->mutable_spec());
  }
  return done->job;
}

std::unique_ptr<JobEngine::Watch> JobEngine::WatchChanges(const std::string& job_id, WatchCallback callback) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_watcher_++;
  watchers_.emplace(id, Watcher{job_id, std::move(callback)});
  return std::unique_ptr<Watch>(new Watch(this, id));
}

void JobEngine::Unwatch(uint64_t id) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(id);
}

void JobEngine::Publish(const WatchJobResponse& change) {
  if (change.has_outcome()) {
    const hive::bridge::v1::JobDeviceOutcome& outcome = change.outcome();
    if (options_.observer != nullptr) options_.observer->DeviceSettled(outcome.status());
    if (options_.events != nullptr) {
      hive::bridge::v1::DeviceEvent event;
      event.set_device_id(outcome.device_id());
      event.set_account_id(outcome.account_id());
      event.set_service(std::string(codec::kBackendService));
      event.set_type("job-outcome");
      *event.mutable_received_at() = outcome.at();
      hive::bridge::v1::JobOutcome& body = *event.mutable_job_outcome();
      body.set_job_id(change.job().job_id());
      body.set_request_id(outcome.request_id());
      body.set_status(outcome.status());
      body.set_error(outcome.error());
      body.set_wave(outcome.wave());
      options_.events->Publish(std::move(event));
    }
  }
  {
    absl::MutexLock lock(&mu_);
    active_[change.job().job_id()] = change.job();
  }
  // In cluster mode watchers hear of a change when the view has it.
  if (!clustered()) Notify(change);
}

void JobEngine::Notify(const WatchJobResponse& change) {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, watcher] : watchers_) {
    if (watcher.job_id == change.job().job_id()) watcher.callback(change);
  }
}

size_t JobEngine::active_jobs() const {
  absl::MutexLock lock(&mu_);
  return active_.size();
}

}  // namespace hive

// bridge/jobs/job_engine.h
// The fleet jobs of this bridge (docs/jobs.md): it starts them, drives each
// one's JobRunner on a thread of its own (the store's and the queue's disk
// writes never run on a gRPC or I/O thread), feeds the runners the
// request-outcome events of the hub, resumes unfinished jobs at start, and
// lets calls read, cancel and watch them.
//
//   JobEngine engine(store, sender, hub, clock, {.max_active_jobs = 16});
//   engine.Start();                                   // resumes RUNNING/PAUSED jobs
//   absl::StatusOr<JobStore::Created> created = engine.StartJob(job, device_ids);
//   auto watch = engine.Watch(job_id, [](const WatchJobResponse& change) { ... });
//   engine.Stop();                                    // before the queue and the hub go
//
// Jobs with include_joining take the devices that come to match their
// selector while they run: the engine reads again, from the twins
// (JoiningDevices), each device an event names after which it may match
// (its presence, its version, a twin type the selector's fields name), and
// the whole selection when it may have missed such events: when it adopts
// the job, after its subscription changed, and after a gap.
//
// In cluster mode (Options::cluster) the store is this replica's view of the
// fleet's jobs log (job_op.h): StartJob and CancelJob append operations and
// wait for them to come back, every replica applies every operation
// (ApplyJobOp, on the bus thread) and wakes its watchers, and the engine
// drives only the jobs whose lease this replica holds (job_leases.h), taking
// over those of a replica the fleet directory has lost (docs/jobs.md, "In a
// cluster").
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "bridge/clock.h"
#include "bridge/event_hub.h"
#include "bridge/event_sink.h"
#include "bridge/jobs/job_leases.h"
#include "bridge/jobs/job_log_journal.h"
#include "bridge/jobs/job_observer.h"
#include "bridge/jobs/job_op.h"
#include "bridge/jobs/job_runner.h"
#include "bridge/jobs/job_sender.h"
#include "bridge/jobs/job_store.h"
#include "bridge/jobs/joining_devices.h"

namespace hive {

class JobEngine final : public JobLogReader {
 public:
  struct Options {
    // Jobs running (or paused, or draining) at once; one more is
    // RESOURCE_EXHAUSTED naming --max-active-jobs.
    size_t max_active_jobs = 16;
    // Ended jobs are deleted this long after they ended (--job-retention).
    absl::Duration retention = absl::Hours(24 * 7);
    // Told of jobs at work, ended, and device outcomes; may be null.
    JobObserver* observer = nullptr;
    // Where each device outcome goes as a `job-outcome` event (the bus the
    // devices' events go to, so SubscribeEvents carries it); may be null.
    EventSink* events = nullptr;
    // Cluster mode: the fleet's jobs log (null on one bridge) and this
    // replica's id.
    JobLog* log = nullptr;
    std::string replica;
    // include_joining: who says which devices match a selector now (null:
    // jobs never take newcomers), and the most devices a job may select in
    // all (--max-job-devices).
    const JoiningDevices* joining = nullptr;
    size_t max_job_devices = 100'000;
  };

  // A live watch of one job: changes reach its callback (on the engine's
  // thread; it must only post work) until it is destroyed.
  class Watch {
   public:
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

   private:
    friend class JobEngine;
    Watch(JobEngine* engine, uint64_t id) : engine_(engine), id_(id) {}
    JobEngine* engine_;
    uint64_t id_;
  };
  using WatchCallback = std::function<void(const WatchJobResponse&)>;

  JobEngine(JobStore& store, JobSender& sender, EventHub& hub, const Clock& clock, Options options);
  ~JobEngine() override;
  JobEngine(const JobEngine&) = delete;
  JobEngine& operator=(const JobEngine&) = delete;

  // Resumes the unfinished jobs and starts the thread.
  absl::Status Start();
  // Stops the thread; running jobs stay RUNNING in the store and resume at
  // the next Start. Idempotent.
  void Stop();

  // Stores and starts `job` (RUNNING, created_at set) over `device_ids`
  // (sorted, in send order); a job id used before answers that job
  // (inserted=false) and starts nothing.
  absl::StatusOr<JobStore::Created> StartJob(const Job& job, const std::vector<std::string>& device_ids);
  // The job as it stands (a running one as of its last change), with its
  // spec.
  absl::StatusOr<std::optional<Job>> Get(const std::string& job_id);
  // A job as the store had it (ListJobs' page), as it stands: a running
  // one's state and counters as of its last change rather than its last
  // save, in cluster mode the lease holder as its replica; its spec as
  // `stored` has it.
  Job AsItStands(Job stored) const;
  // Jobs newest first (job_store.h); running ones as of their last save.
  absl::StatusOr<JobStore::Page> List(const std::string& after, size_t limit,
                                      const std::function<bool(const Job&)>& keep) {
    return store_.List(after, limit, keep);
  }
  // Changes of a job after `sequence`, from the store (every change is
  // stored before watchers hear of it).
  absl::StatusOr<std::vector<WatchJobResponse>> History(const std::string& job_id, uint64_t after, size_t limit) {
    return store_.History(job_id, after, limit);
  }
  // Cancels a running job: when it returns, nothing more is sent. The job
  // as it stands then; NOT_FOUND when unknown.
  absl::StatusOr<Job> Cancel(const std::string& job_id, const std::string& reason);
  // Changes of `job_id` from now on, to `callback`.
  std::unique_ptr<Watch> WatchChanges(const std::string& job_id, WatchCallback callback);

  size_t active_jobs() const;

  // Cluster mode: one operation of the jobs log, in log order (bus thread).
  void ApplyJobOp(const JobOp& op) override;
  // Cluster mode: whether this replica has read the jobs log up to its own
  // marker (before, StartJob and CancelJob answer UNAVAILABLE and no job is
  // driven here). Always true on one bridge.
  bool caught_up() const;

 private:
  using Task = absl::AnyInvocable<void() &&>;
  struct Watcher {
    std::string job_id;
    WatchCallback callback;
  };

  void Post(Task task);
  // A job at work here, as of its last change, without its spec.
  std::optional<Job> Live(const std::string& job_id) const;
  void Run();
  // On the engine's thread:
  void Adopt(JobStore::Unfinished loaded, bool fresh);
  void DrainOutcomes();
  void Tick();
  // include_joining (job_engine_joins.cc): the subscription to the events
  // that may make a device match a joining job, for the jobs running now;
  // whether it subscribed anew (and so read every selection again).
  bool RefreshJoins();
  void DrainJoins();
  // Offers `devices` to every joining job that has not selected them and
  // whose selector they match now.
  void OfferJoins(const std::vector<std::string>& devices);
  // The whole selection, read again, offered to `runner`.
  void Sweep(JobRunner& runner);
  void Publish(const WatchJobResponse& change);
  void Unwatch(uint64_t id);
  void Notify(const WatchJobResponse& change);

  // Cluster mode (job_engine_cluster.cc).
  bool clustered() const { return options_.log != nullptr; }
  // What an operation this replica appended did, once it came back.
  struct OpWaiter {
    std::string job_id;
    absl::Notification done;
    absl::StatusOr<JobStore::Created> created = absl::UnknownError("not applied");
  };
  std::shared_ptr<OpWaiter> Expect(const std::string& op_id, const std::string& job_id);
  void Resolve(const std::string& op_id, absl::StatusOr<JobStore::Created> created);
  // Appends `op` (its id and replica set here) and waits for it to come back.
  absl::Status AppendAndWait(const JobOp& op, const std::shared_ptr<OpWaiter>& waiter, absl::string_view what);
  absl::StatusOr<JobStore::Created> StartInCluster(const Job& job, const std::vector<std::string>& device_ids);
  absl::StatusOr<Job> CancelInCluster(const std::string& job_id, const std::string& reason);
  void ApplyStart(const JobOp& op);
  void ApplyLease(const JobOp& op);
  void ApplyRecord(const JobOp& op);
  void ApplyCancel(const JobOp& op);
  void ApplyMarker(const JobOp& op);
  // On the engine's thread:
  void ClusterTick();
  void CaughtUp(const std::vector<std::string>& former);
  void TakeOver(const std::string& job_id);
  void Release(const std::string& job_id);
  void CancelHere(const std::string& job_id);
  void ProposeLease(const std::string& job_id, uint64_t term);

  JobStore& store_;
  JobSender& sender_;
  EventHub& hub_;
  const Clock& clock_;
  const Options options_;

  mutable absl::Mutex mu_;
  std::vector<Task> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time next_tick_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  // The running jobs as of their last change, for Get and the limit.
  absl::flat_hash_map<std::string, Job> active_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, Watcher> watchers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_watcher_ ABSL_GUARDED_BY(mu_) = 1;

  // Cluster mode.
  JobLeases leases_;
  std::unique_ptr<JobLogJournal> log_journal_;
  absl::flat_hash_map<std::string, std::shared_ptr<OpWaiter>> op_waiters_ ABSL_GUARDED_BY(mu_);
  // Cancels applied and not yet acknowledged by the job's holder: job id to
  // (cancel op id, reason).
  absl::flat_hash_map<std::string, std::vector<std::pair<std::string, std::string>>> cancels_ ABSL_GUARDED_BY(mu_);
  // The marker whose reading back means the view has caught up.
  std::string marker_id_ ABSL_GUARDED_BY(mu_);
  bool caught_up_ ABSL_GUARDED_BY(mu_) = false;

  // The engine thread's own.
  absl::flat_hash_map<std::string, std::unique_ptr<JobRunner>> runners_;
  // Cluster mode: when the marker went, when the view caught up, the lease
  // terms this replica asked for lately (job id to term and when).
  absl::Time marker_sent_at_ = absl::InfinitePast();
  absl::Time caught_up_at_ = absl::InfiniteFuture();
  absl::Time cluster_ticked_at_ = absl::InfinitePast();
  absl::flat_hash_map<std::string, std::pair<uint64_t, absl::Time>> proposed_;
  std::unique_ptr<Subscription> outcomes_;
  // include_joining: the event types subscribed to (sorted; none without a
  // joining job), and the subscription.
  std::vector<std::string> join_types_;
  std::unique_ptr<Subscription> joins_;
  absl::Time cleaned_at_ = absl::InfinitePast();
  std::thread thread_;
};

}  // namespace hive

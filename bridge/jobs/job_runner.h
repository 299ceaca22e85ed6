// bridge/jobs/job_runner.h
// One fleet job at work (docs/jobs.md): it sends its devices their command
// through a JobSender, at most `max_rate` a second and `max_in_flight` at a
// time, one wave after another with the waves' pauses, follows each
// device's request to its outcome, keeps the counters, and stops when the
// abort rule fires or it is cancelled: devices not yet sent are skipped and
// requests still queued for offline devices are cancelled.
//
// With include_joining, devices that come to match the job's selector while
// it runs are appended to its selection (Join) and belong to its last wave;
// the waves' shares stay those of the selection at the start.
//
// Every device of the job is in one bucket (JobCounters): pending → queued
// (offline) → in flight → succeeded | failed | expired | skipped. A device
// only moves forward, so outcomes that arrive late or twice (a resumed job
// reads them back) change nothing. A job that is aborted or cancelled ends
// (ended_at) once its devices in flight have their outcomes.
//
//   absl::StatusOr<std::unique_ptr<JobRunner>> runner = JobRunner::Make(deps, loaded);
//   (*runner)->Reconcile();                 // a resumed job: read back what it sent
//   absl::Time next = (*runner)->Tick();    // call again at `next`, or on an outcome
//   (*runner)->OnOutcome(request_id, status, error);
//
// Not thread-safe: it belongs to the job engine's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bridge/clock.h"
#include "bridge/jobs/abort_window.h"
#include "bridge/jobs/job_journal.h"
#include "bridge/jobs/job_sender.h"
#include "bridge/jobs/job_store.h"
#include "bridge/jobs/wave_plan.h"
#include "bridge/token_bucket.h"

namespace hive {

class JobRunner {
 public:
  using ChangeCallback = std::function<void(const WatchJobResponse&)>;

  struct Deps {
    // Where its cursor and changes go: the JobStore, or in cluster mode the
    // jobs log (job_journal.h).
    JobJournal& journal;
    JobSender& sender;
    const Clock& clock;
    // Each change, as WatchJob sends it (after the journal took it).
    ChangeCallback on_change;
    // Reconcile: a device the cursor passed whose request the sender does
    // not know is sent again (under its derived id) rather than taken for
    // forgotten. In cluster mode a replica taking a job over may read the
    // queue's view a moment behind the replica that sent it; sending again
    // is harmless there, the queue's log answering with the request it has.
    bool resend_unknown = false;
  };

  // How often a running job looks again when nothing else wakes it.
  static constexpr absl::Duration kTick = absl::Milliseconds(100);

  // A job as stored (new: next_index 0, statuses unset), with its
  // selection; INVALID_ARGUMENT when its rollout is not valid.
  static absl::StatusOr<std::unique_ptr<JobRunner>> Make(Deps deps, JobStore::Unfinished loaded);

  // A new job's first change (its start), for WatchJob's history.
  void Announce() { RecordJobChange(); }
  // Reads back, from the sender, the request of every device sent and not
  // yet at its outcome: for a resumed job, or after outcomes were missed.
  absl::Status Reconcile();
  // Sends what the pace allows, moves the waves on, and ends the job when
  // its devices are done; when to call it next (InfiniteFuture once ended).
  absl::Time Tick();
  // A request's status changed; false when the request is not this job's.
  // `account_id`: the device's, as the request's record or event says.
  bool OnOutcome(const std::string& request_id, RequestStatus status, const std::string& error,
                 const std::string& account_id = "");
  // Stops the job (CANCELLED), as the abort rule would.
  void Cancel(const std::string& reason);

  // include_joining: whether the job takes devices that come to match its
  // selector now (it has one, asked for them, and runs or pauses).
  bool joining() const;
  const hive::bridge::v1::DeviceSelector& selector() const { return spec_.target().selector(); }
  // Whether `device_id` is in the job's selection.
  bool Has(const std::string& device_id) const;
  // Appends the devices of `device_ids` not in the selection yet (in their
  // order) to the last wave, while the selection stays within
  // `max_devices`; how many joined. Nothing when not joining().
  size_t Join(const std::vector<std::string>& device_ids, size_t max_devices);

  // The job as it stands, without its spec (job_status.h).
  const Job& job() const { return job_; }
  bool ended() const { return job_.has_ended_at(); }

 private:
  enum class Bucket { kPending, kQueued, kInFlight, kSucceeded, kFailed, kExpired, kSkipped };
  struct Member {
    std::string device_id;
    std::string request_id;
    Bucket bucket = Bucket::kPending;
  };

  JobRunner(Deps deps, Job job, hive::bridge::v1::StartJobRequest spec, WavePlan plan, size_t next_index,
            uint64_t last_sequence);

  static int Rank(Bucket bucket);
  Bucket BucketOf(RequestStatus status) const;
  void Count(Bucket bucket, int64_t delta);
  // Moves member `index` to `bucket` if that is forward; whether it moved.
  bool Move(size_t index, Bucket bucket);
  // Sends member `index`; false when the sender is full or away (try later).
  bool Send(size_t index);
  // Records member `index`'s outcome (history, abort rule).
  void Settled(size_t index, RequestStatus status, const std::string& error, const std::string& account_id = "");
  // A change of the job alone (started, paused, next wave, stopping, ended).
  void RecordJobChange();
  void Stop(JobState state, const std::string& reason);
  // Ends the job once it is stopping or done and nothing is in flight.
  void EndIfDone();
  void Save();
  hive::bridge::v1::SendDeviceRequestRequest RequestFor(const Member& member) const;

  Deps deps_;
  // Without its spec: each change copies it.
  Job job_;
  // Its spec, without the explicit device list.
  hive::bridge::v1::StartJobRequest spec_;
  WavePlan plan_;
  std::vector<Member> members_;
  absl::flat_hash_map<std::string, size_t> by_request_;
  size_t next_index_;
  uint64_t sequence_;
  std::optional<AbortWindow> window_;
  TokenBucket pace_;
  absl::Time pause_until_ = absl::InfinitePast();
  // Join found the selection at max_devices (said once in the log).
  bool join_capped_ = false;
};

}  // namespace hive

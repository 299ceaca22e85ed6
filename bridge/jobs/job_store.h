// bridge/jobs/job_store.h
// Where fleet jobs live (docs/jobs.md): three tables in the --state-dir
// database, on a connection of their own.
//   jobs         one row per job: the Job message as it stands without its
//                spec (rewritten on every change), its spec (written once,
//                its explicit device list apart), its state and
//                `next_index`, how far into its selection it has sent;
//   job_devices  the job's selection in send order, each device's status;
//   job_history  every change WatchJob replays, by sequence (its job without
//                its spec: job_status.h).
//
// Durability kNormal (a committed change survives kill -9; a power cut may
// lose the last few): what a device was sent is not kept here but in the
// queue (synchronous=FULL), under the job's derived request ids, and a
// resumed job reads each device's status back from there. So a change lost
// here is re-derived, never re-sent.
//
//   absl::StatusOr<std::unique_ptr<JobStore>> store = JobStore::Open(StateDbPath(dir), clock);
//   absl::StatusOr<JobStore::Created> created = (*store)->Create(job, device_ids);
//   (*store)->Advance(job_id, next_index, job);        // after enqueueing up to next_index
//   (*store)->Record(job, index, change);              // a device's outcome, appended to the history
//
// Thread-safe: one mutex serialises the database.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/clock.h"
#include "bridge/jobs/job_journal.h"
#include "bridge/state/sqlite_db.h"
#include "hive/bridge/v1/jobs.pb.h"

namespace hive {

using hive::bridge::v1::Job;
using hive::bridge::v1::JobState;
using hive::bridge::v1::RequestStatus;
using hive::bridge::v1::WatchJobResponse;

class JobStore final : public JobJournal {
 public:
  struct Created {
    // The job as stored: `job` itself, or the one stored before under its id.
    Job job;
    bool inserted = false;
  };

  // One device of a job's selection.
  struct Member {
    std::string device_id;
    // REQUEST_STATUS_UNSPECIFIED until the job sent it.
    RequestStatus status = hive::bridge::v1::REQUEST_STATUS_UNSPECIFIED;
  };

  // A job to resume: as stored (its spec without the explicit device list:
  // the selection is `members`), with its selection.
  struct Unfinished {
    Job job;
    size_t next_index = 0;
    std::vector<Member> members;
    // The last history sequence written.
    uint64_t last_sequence = 0;
  };

  static absl::StatusOr<std::unique_ptr<JobStore>> Open(const std::string& path, const Clock& clock);
  ~JobStore() override;

  // Stores a new job and its selection (in send order) in one transaction;
  // a job id stored before answers that job (inserted=false).
  absl::StatusOr<Created> Create(const Job& job, const std::vector<std::string>& device_ids);
  // The job with its whole spec.
  absl::StatusOr<std::optional<Job>> Get(const std::string& job_id);
  // Devices appended to the selection (include_joining), after the others,
  // with the job after they joined, in one transaction.
  absl::Status Join(const Job& job, size_t first_index, const std::vector<std::string>& device_ids) override;
  // The job as it stands, and how far into its selection it has sent. Here
  // and in Record and Append the job's spec is not written (the one Create
  // stored stays): pass the job without it (JobWithoutSpec).
  absl::Status Advance(const Job& job, size_t next_index) override;
  // Device `index`'s status and the change WatchJob sends for it (its
  // sequence set), with the job after it, in one transaction.
  absl::Status Record(const Job& job, std::optional<size_t> index, RequestStatus status,
                      const WatchJobResponse& change) override;
  // Up to `limit` changes after `sequence`, in order, each job without its
  // spec.
  absl::StatusOr<std::vector<WatchJobResponse>> History(const std::string& job_id, uint64_t after, size_t limit);
  // Jobs newest first, each with its spec but without the spec's explicit
  // device list (`target.devices` is set, its `device_ids` empty: a page of
  // jobs of 100,000 listed devices would be hundreds of MB), after the page token `after` ("" for the first
  // page), only those `keep` accepts (it runs under the store's lock). The
  // token of the next page is the last job's; empty when there is no next
  // page.
  struct Page {
    std::vector<Job> jobs;
    std::string next_page_token;
  };
  absl::StatusOr<Page> List(const std::string& after, size_t limit, const std::function<bool(const Job&)>& keep);
  // RUNNING and PAUSED jobs, to resume at start.
  absl::StatusOr<std::vector<Unfinished>> LoadUnfinished();
  // One of them (cluster mode: a job this replica took over); nullopt when
  // it is unknown or has ended.
  absl::StatusOr<std::optional<Unfinished>> LoadUnfinished(const std::string& job_id);
  // Deletes jobs that ended more than `retention` ago, with their devices
  // and history; how many.
  absl::StatusOr<size_t> DeleteEnded(absl::Duration retention);

 private:
  struct Statements;
  JobStore(std::unique_ptr<SqliteDb> db, const Clock& clock);
  absl::Status Prepare();
  // Adds the spec columns to a database of before them, and moves the
  // specs of its jobs there.
  absl::Status MigrateSpecsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::optional<Job>> GetLocked(const std::string& job_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status UpdateLocked(const Job& job, std::optional<size_t> next_index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InsertMembersLocked(const std::string& job_id, size_t first_index,
                                   const std::vector<std::string>& device_ids) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock& clock_;
  absl::Mutex mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Statements> statements_ ABSL_GUARDED_BY(mu_);
};

// Whether a job in `state` has ended (COMPLETED, ABORTED, CANCELLED).
bool JobEnded(JobState state);

}  // namespace hive

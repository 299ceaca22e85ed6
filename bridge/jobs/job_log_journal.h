// bridge/jobs/job_log_journal.h
// Cluster mode: the JobJournal of the jobs this replica drives. Each write
// becomes an operation of the jobs log (kAdvance, kRecord, kJoin) carrying the
// lease's term, so that every replica's view applies it, and none applies it
// once another replica has taken the lease. It does not wait for the
// operation to come back: the driver keeps its job in memory, and watchers
// are woken when the view has it.
//
//   JobLogJournal journal(log, leases, "replica-a");
//   JobRunner::Make({journal, sender, clock, on_change, /*resend_unknown=*/true}, loaded);
#pragma once

#include <string>
#include <vector>

#include "bridge/jobs/job_journal.h"
#include "bridge/jobs/job_leases.h"
#include "bridge/jobs/job_op.h"

namespace hive {

class JobLogJournal final : public JobJournal {
 public:
  JobLogJournal(JobLog& log, const JobLeases& leases, std::string replica)
      : log_(log), leases_(leases), replica_(std::move(replica)) {}

  // FAILED_PRECONDITION when another replica holds the job's lease (this one
  // lost it: the write would be ignored anyway); UNAVAILABLE when the broker
  // is away; OK without writing once the job's end is applied.
  absl::Status Advance(const hive::bridge::v1::Job& job, size_t next_index) override;
  absl::Status Record(const hive::bridge::v1::Job& job, std::optional<size_t> index,
                      hive::bridge::v1::RequestStatus status,
                      const hive::bridge::v1::WatchJobResponse& change) override;
  absl::Status Join(const hive::bridge::v1::Job& job, size_t first_index,
                    const std::vector<std::string>& device_ids) override;

 private:
  absl::Status Append(JobOp op);

  JobLog& log_;
  const JobLeases& leases_;
  const std::string replica_;
};

}  // namespace hive

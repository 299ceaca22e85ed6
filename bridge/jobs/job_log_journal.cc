#include "bridge/jobs/job_log_journal.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/uuid.h"

namespace hive {

absl::Status JobLogJournal::Advance(const hive::bridge::v1::Job& job, size_t next_index) {
  JobOp op;
  op.kind = JobOp::Kind::kAdvance;
  op.job_id = job.job_id();
  op.job = job;
  op.next_index = next_index;
  return Append(std::move(op));
}

absl::Status JobLogJournal::Record(const hive::bridge::v1::Job& job, std::optional<size_t> index,
                                   hive::bridge::v1::RequestStatus status,
                                   const hive::bridge::v1::WatchJobResponse& change) {
  JobOp op;
  op.kind = JobOp::Kind::kRecord;
  op.job_id = job.job_id();
  op.index = index;
  op.status = status;
  op.change = change;
  return Append(std::move(op));
}

absl::Status JobLogJournal::Join(const hive::bridge::v1::Job& job, size_t first_index,
                                 const std::vector<std::string>& device_ids) {
  JobOp op;
  op.kind = JobOp::Kind::kJoin;
  op.job_id = job.job_id();
  op.job = job;
  op.next_index = first_index;
  op.device_ids = device_ids;
  return Append(std::move(op));
}

absl::Status JobLogJournal::Append(JobOp op) {
  std::optional<JobLeases::Lease> lease = leases_.Of(op.job_id);
  // No lease: the job's end is in the view already, and a write after it
  // (the cursor saved after the last change) would change nothing.
  if (!lease.has_value()) return absl::OkStatus();
  if (lease->holder != replica_) {
    return absl::FailedPreconditionError(absl::StrCat("job ", op.job_id, ": this replica no longer holds its lease"));
  }
  op.id = NewUuid();
  op.replica = replica_;
  op.term = lease->term;
  if (!log_.AppendJobOp(op)) return absl::UnavailableError("the jobs log is unreachable (broker away)");
  return absl::OkStatus();
}

}  // namespace hive

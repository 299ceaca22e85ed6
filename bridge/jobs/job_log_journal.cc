#include "bridge/jobs/job_log_journal.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/uuid.h"

namespace hive {

namespace {

// The driver's operation of `kind` on `job`: the job as it stands goes
// with every kind but kRecord, whose change carries it.
JobOp OpOf(JobOp::Kind kind, const hive::bridge::v1::Job& job) {
  JobOp op;
  op.kind = kind;
  op.job_id = job.job_id();
  if (kind != JobOp::Kind::kRecord) op.job = job;
  return op;
}

}  // namespace

absl::Status JobLogJournal::Advance(const hive::bridge::v1::Job& job, size_t next_index) {
  JobOp op = OpOf(JobOp::Kind::kAdvance, job);
  op.next_index = next_index;
  return Append(std::move(op));
}

absl::Status JobLogJournal::Record(const hive::bridge::v1::Job& job, std::optional<size_t> index,
                                   hive::bridge::v1::RequestStatus status,
                                   const hive::bridge::v1::WatchJobResponse& change) {
  JobOp op = OpOf(JobOp::Kind::kRecord, job);
  op.index = index;
  op.status = status;
  op.change = change;
  return Append(std::move(op));
}

absl::Status JobLogJournal::Join(const hive::bridge::v1::Job& job, size_t first_index,
                                 const std::vector<std::string>& device_ids) {
  JobOp op = OpOf(JobOp::Kind::kJoin, job);
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

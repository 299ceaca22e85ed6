#include "bridge/jobs/job_status.h"

namespace hive {

hive::bridge::v1::Job JobWithoutSpec(const hive::bridge::v1::Job& job) {
  // Field by field rather than a copy with the spec cleared after, which
  // would copy the spec first. job_status_test checks that every field of
  // Job but `spec` is here.
  hive::bridge::v1::Job status;
  status.set_job_id(job.job_id());
  status.set_state(job.state());
  if (job.has_counters()) *status.mutable_counters() = job.counters();
  status.set_wave(job.wave());
  if (job.has_created_at()) *status.mutable_created_at() = job.created_at();
  if (job.has_ended_at()) *status.mutable_ended_at() = job.ended_at();
  status.set_end_reason(job.end_reason());
  status.set_account_id(job.account_id());
  status.set_replica(job.replica());
  return status;
}

}  // namespace hive

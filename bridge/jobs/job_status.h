// bridge/jobs/job_status.h
// A job without its spec: what each change of a running job carries (its
// history rows, WatchJob's messages, the cluster's `record` and `advance`
// operations, the jobs row rewritten on every change). The spec is written
// once, when the job is stored, and read back only by GetJob (and,
// without its device list, ListJobs): an explicit list of 100,000 device ids
// is ~4 MB, which every change copied, stored twice and sent before.
//
//   Job status = JobWithoutSpec(job);   // job.spec() left out, all else copied
#pragma once

#include "hive/bridge/v1/jobs.pb.h"

namespace hive {

// Every field of `job` but `spec`, without copying the spec.
hive::bridge::v1::Job JobWithoutSpec(const hive::bridge::v1::Job& job);

}  // namespace hive

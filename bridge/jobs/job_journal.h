// bridge/jobs/job_journal.h
// Where a JobRunner writes what it did: its job's send cursor and each change
// WatchJob replays. On one bridge that is the JobStore itself; in cluster
// mode it is the jobs log (JobLogJournal), which every replica applies to
// its view, so a follower replica answers with the driver's counters and
// history.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "hive/bridge/v1/jobs.pb.h"

namespace hive {

class JobJournal {
 public:
  virtual ~JobJournal() = default;
  // The job as it stands, and how far into its selection it has sent.
  virtual absl::Status Advance(const hive::bridge::v1::Job& job, size_t next_index) = 0;
  // Device `index`'s status (none: a change of the job alone) and the change
  // WatchJob sends for it, its sequence set, with the job after it.
  virtual absl::Status Record(const hive::bridge::v1::Job& job, std::optional<size_t> index,
                              hive::bridge::v1::RequestStatus status,
                              const hive::bridge::v1::WatchJobResponse& change) = 0;
  // Devices that joined the job's selection (include_joining), appended at
  // `first_index` and on, with the job after they joined.
  virtual absl::Status Join(const hive::bridge::v1::Job& job, size_t first_index,
                            const std::vector<std::string>& device_ids) = 0;
};

}  // namespace hive

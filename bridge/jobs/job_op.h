// bridge/jobs/job_op.h
// Cluster mode: one operation of the fleet's jobs log (docs/jobs.md, "In a
// cluster"). Every replica reads the log from its first operation, in log
// order, into its view of the jobs (an in-memory JobStore), so that every
// replica answers GetJob, ListJobs and WatchJob alike; the log's one total
// order decides every race (two StartJobs under one id, two replicas taking
// over the same job: the first operation wins everywhere).
//
//   kStart    a job and its selection, stored RUNNING; its issuer holds the
//             lease, term 1.
//   kLease    `replica` takes the job's lease for `term`: it wins when `term`
//             is one more than the lease's term when it is applied.
//   kAdvance  the driver's job as it stands (without its spec) and its send cursor.
//   kRecord   the driver's change for WatchJob (with a device's outcome, or
//             a change of the job alone).
//   kJoin     devices that joined the driver's job (include_joining),
//             appended to its selection from `next_index` on.
//   kCancel   CancelJob on any replica; the holder stops the job, then
//             acknowledges it (a kMarker naming the cancel).
//   kMarker   nothing to the view: a replica reading its own marker back
//             knows its view has everything appended before it.
// kAdvance, kRecord and kJoin carry the driver's term; one from an older term (a
// replica that lost the lease and has not noticed yet) changes nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hive/bridge/v1/jobs.pb.h"

namespace hive {

struct JobOp {
  enum class Kind { kStart, kLease, kAdvance, kRecord, kJoin, kCancel, kMarker };

  Kind kind = Kind::kMarker;
  // Unique (a UUID): the issuer waits for its own operation by it.
  std::string id;
  // The issuing replica.
  std::string replica;
  // Every kind but kMarker.
  std::string job_id;
  // kLease: the term taken; kAdvance, kRecord, kJoin: the driver's term.
  uint64_t term = 0;
  // kStart: the job as started; kAdvance, kJoin: the job as it stands,
  // without its spec (kStart carried it).
  hive::bridge::v1::Job job;
  // kStart: the selection, in send order; kJoin: the devices that joined.
  std::vector<std::string> device_ids;
  // kAdvance: how far into its selection the job has sent; kJoin: the
  // index of the first device that joined.
  size_t next_index = 0;
  // kRecord: the device (by its place in the selection) the change settles,
  // with its status; unset for a change of the job alone.
  std::optional<size_t> index;
  hive::bridge::v1::RequestStatus status = hive::bridge::v1::REQUEST_STATUS_UNSPECIFIED;
  // kRecord: the change, its sequence set, the job after it (without its spec).
  hive::bridge::v1::WatchJobResponse change;
  // kCancel: who cancelled it, for the job's end_reason.
  std::string reason;
  // kMarker: the id of the kCancel this marker acknowledges (the holder has
  // stopped the job and cancelled its queued requests), if any.
  std::string acknowledges;
};

// Where the operations go: the fleet's jobs log, and what the log knows of
// the replicas (the fleet directory's liveness).
class JobLog {
 public:
  virtual ~JobLog() = default;
  // Appends `op`; it comes back, in log order, to every replica's
  // JobLogReader. False when it cannot be appended now (the broker is
  // unreachable).
  virtual bool AppendJobOp(const JobOp& op) = 0;
  // Whether `replica` is alive as far as this replica knows (it beats, and
  // neither said goodbye nor fell silent).
  virtual bool ReplicaAlive(const std::string& replica) const = 0;
  // Whether the log is reachable now. After it was not, the liveness above
  // is stale until the replicas' heartbeats come again.
  virtual bool connected() const = 0;
};

// What reads the log: each operation once, in log order, on the bus thread.
class JobLogReader {
 public:
  virtual ~JobLogReader() = default;
  virtual void ApplyJobOp(const JobOp& op) = 0;
};

}  // namespace hive

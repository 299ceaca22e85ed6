// bridge/jobs/job_leases.h
// Cluster mode: who drives each unfinished job (docs/jobs.md, "In a
// cluster"). A job's lease is a (replica, term) pair taken by operations of
// the jobs log (job_op.h): StartJob's issuer holds term 1, and a lease
// operation for term t+1 wins when the lease stands at term t as it is
// applied, so of two replicas taking over the same job the first in the log
// wins on every replica, and the loser knows it lost. Only the holder drives
// the job; the driver's writes carry its term, and one from an older term is
// ignored (Current), which fences a replica that lost the lease without
// noticing yet.
//
//   JobLeases leases;
//   leases.Started(job_id, "replica-a");                // term 1
//   if (leases.Take(job_id, "replica-b", 2)) ...         // replica-b drives from now on
//   leases.Current(job_id, term)                         // a driver's write still counts
//   leases.Orphaned(alive)                               // jobs whose holder is gone, to take over
//
// Thread-safe (the bus thread applies, the engine thread and calls read).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace hive {

class JobLeases {
 public:
  struct Lease {
    std::string holder;
    uint64_t term = 0;
  };

  // A job started by `holder`: its lease, term 1.
  void Started(const std::string& job_id, const std::string& holder);
  // `replica` asks for `term`: whether it won (the job is unfinished and its
  // lease stood at term - 1).
  bool Take(const std::string& job_id, const std::string& replica, uint64_t term);
  // The job ended: it has no lease any more.
  void Ended(const std::string& job_id);
  // The unfinished job's lease; nullopt when unknown or ended.
  std::optional<Lease> Of(const std::string& job_id) const;
  // Whether a write of the driver at `term` counts (it is the lease's term).
  bool Current(const std::string& job_id, uint64_t term) const;
  // Unfinished jobs whose holder `alive` says is gone, with the term to ask
  // for; `self` never counts as gone.
  std::vector<std::pair<std::string, uint64_t>> Orphaned(const std::string& self,
                                                         const std::function<bool(const std::string&)>& alive) const;
  // Unfinished jobs held by `replica`.
  std::vector<std::string> HeldBy(const std::string& replica) const;
  // Unfinished jobs of the fleet.
  size_t unfinished() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Lease> leases_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hive

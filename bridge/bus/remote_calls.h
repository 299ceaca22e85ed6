// bridge/bus/remote_calls.h
// The requests this replica routed to other replicas and still waits on,
// keyed by the AMQP correlation id their answer will carry. Each completes
// exactly once: with the answer, or with an error when its deadline passes,
// its caller cancels, the replica holding its device goes away, or the
// connection to the broker is lost (its answer could no longer arrive).
//
//   std::string id = calls.Add(replica, deadline, std::move(done));
//   ... publish with correlation_id = id; when the answer comes:
//   calls.Complete(id, std::move(answer));
//
// Thread-safe; `done` never runs under the table's lock.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/clock.h"
#include "bridge/request_correlator.h"

namespace hive {

class RemoteCalls {
 public:
  explicit RemoteCalls(const Clock& clock) : clock_(clock) {}

  // Adds a call to a device held by `replica`; returns its correlation id.
  std::string Add(std::string replica, absl::Time deadline, RequestCorrelator::Done done);

  bool Pending(const std::string& id) const;

  // Completes the call `id` with `outcome`; nothing if it is done already.
  void Complete(const std::string& id, absl::StatusOr<SendDeviceRequestResponse> outcome);

  // `replica` answered the call `id`. An answer from a replica that does not
  // hold the device (`holder` false) completes the call only when that
  // replica was the one the call was routed to; otherwise the holder's
  // answer is still to come.
  void Answer(const std::string& id, const std::string& replica, bool holder,
              absl::StatusOr<SendDeviceRequestResponse> outcome);

  void FailReplica(const std::string& replica, const absl::Status& why);
  void FailAll(const absl::Status& why);

  // Fails the calls past their deadline with DEADLINE_EXCEEDED. Runs every
  // few milliseconds, so it touches only the calls that are due (the
  // deadlines are kept in order), however many wait.
  void ExpireDue();

  size_t size() const;

 private:
  struct Call {
    std::string replica;
    absl::Time deadline;
    RequestCorrelator::Done done;
  };

  // Removes and completes the calls `fails` selects, each with its status.
  template <typename Fails>
  void FailWhere(Fails fails);
  // Removes call `it` from both indexes; returns its callback.
  RequestCorrelator::Done Take(absl::flat_hash_map<std::string, Call>::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock& clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Call> calls_ ABSL_GUARDED_BY(mu_);
  // Every call of `calls_` by deadline, for ExpireDue.
  std::set<std::pair<absl::Time, std::string>> deadlines_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace hive

// bridge/queue/request_queue.h
// The durable store of queued requests (SendDeviceRequest with queue_ttl):
// one SQLite table in the --state-dir database, on a connection of its own
// with synchronous=FULL, so a request answered QUEUED survives a crash and a
// power cut. It records each request and what became of it until
// --request-retention after its end, and enforces the queue's limits.
//
// A request's life here: Enqueue (QUEUED) → HandOver (SENT: marked durably
// *before* the deliverer writes it to the device, so after a crash it is never
// sent again) → Progress (SENT/ACKED/SUCCEEDED/FAILED/UNCONFIRMED as the
// device answers). Or, while QUEUED: Cancel (CANCELLED) or ExpireDue
// (EXPIRED). A handed-over request the device's connection certainly never
// wrote goes back to QUEUED (Requeue). Opening the store turns records left
// SENT by a crash into UNCONFIRMED: the device may have them, so they are not
// sent again.
//
//   absl::StatusOr<std::unique_ptr<RequestQueue>> queue = RequestQueue::Open(StateDbPath(dir), limits, clock);
//   absl::StatusOr<RequestQueue::Enqueued> queued = (*queue)->Enqueue(request, digest, ttl);
//
// Limits (Limits): QUEUED requests per device, in all, and their bytes (the
// serialized request); one more is RESOURCE_EXHAUSTED naming the flag. The
// counts are kept in memory (rebuilt when opened), so checking them and
// queued_for() cost O(1) and never wait for the disk.
//
// Cluster mode (Replicate): the store is this replica's view of the fleet's
// queued requests, an in-memory database fed by the fleet's log
// (queue_op.h). Every change (Enqueue, HandOver, Requeue, Progress, Cancel,
// ExpireDue) is appended to the log as an operation, and the call returns
// what applying it did once this replica has read it back (at most
// kOpTimeout: UNAVAILABLE after). Reads (Get, Queued, Knows, queued_for)
// answer from the view, which may trail the log by the time it takes to
// read it. DeleteEnded stays local.
//
// Thread-safe: one mutex serialises the database; another, never held across
// a disk write, guards the counts.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/clock.h"
#include "bridge/limit_counters.h"
#include "bridge/queue/queue_op.h"
#include "bridge/request_correlator.h"
#include "bridge/state/sqlite_db.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive {

using hive::bridge::v1::RequestRecord;
using hive::bridge::v1::RequestStatus;
using hive::bridge::v1::SendDeviceRequestRequest;

class RequestQueue final : public QueueLogReader {
 public:
  struct Limits {
    size_t max_per_device = 100;           // --max-queued-per-device
    size_t max_requests = 100'000;         // --max-queued-requests
    size_t max_bytes = size_t{256} << 20;  // --max-queued-bytes
  };

  // A stored request: what to deliver and where it stands.
  struct Stored {
    // With canonical ids and its request id.
    SendDeviceRequestRequest request;
    RequestCorrelator::Digest digest = 0;
    RequestRecord record;
  };

  struct Enqueued {
    RequestRecord record;
    // False: the request id was queued before, and `record` is that request
    // as it stands (nothing was stored).
    bool inserted = false;
  };

  struct Cancelled {
    RequestRecord record;
    // False: it was cancelled before.
    bool changed = false;
  };

  // What /metrics reports.
  struct Stats {
    size_t queued = 0;
    size_t queued_bytes = 0;
    // Requests that ended, by the status they ended with.
    std::vector<std::pair<RequestStatus, uint64_t>> ended;
  };

  // Opens (or creates) the table in the database at `path`.
  static absl::StatusOr<std::unique_ptr<RequestQueue>> Open(const std::string& path, Limits limits, const Clock& clock);
  // Cluster mode: an in-memory view, to be fed by the fleet's log.
  static absl::StatusOr<std::unique_ptr<RequestQueue>> OpenView(Limits limits, const Clock& clock);
  ~RequestQueue() override;

  // How long a change waits to read its operation back from the log.
  static constexpr absl::Duration kOpTimeout = absl::Seconds(10);

  // Cluster mode: changes go through `log` as `replica`'s operations. Set
  // once, before use. `queued` runs (on the bus thread, so it must only
  // post work) for each request a QUEUED operation inserted, and for every
  // device with queued requests whenever this replica reads its own marker
  // back (it has (re)connected and caught up: deliveries resume), and
  // `orphaned` with the requests this replica claimed and left unanswered
  // in a previous life, once its view has caught up.
  using DeviceCallback = absl::AnyInvocable<void(const std::string& device_id)>;
  using OrphanCallback = absl::AnyInvocable<void(std::vector<std::string> request_ids)>;
  void Replicate(QueueLog* log, std::string replica, DeviceCallback queued, OrphanCallback orphaned);
  // False in cluster mode until this replica read its first marker back
  // (its view had caught up with the log when it started).
  bool caught_up() const { return caught_up_.load(); }
  // Cluster mode: the requests `replica` claimed and left unanswered.
  std::vector<std::string> ClaimedBy(const std::string& replica);
  // Cluster mode: turns `request_id`, claimed by `replica` and unanswered,
  // UNCONFIRMED; its record when this call did it.
  absl::StatusOr<std::optional<RequestRecord>> Orphan(const std::string& request_id, const std::string& replica);

  // QueueLogReader: applies one operation of the fleet's log.
  void Apply(const QueueOp& op) override;

  // Where refusals are counted (may stay unset); set once, before use.
  void CountRefusalsIn(LimitCounters* counters) { counters_ = counters; }

  // Records handed over before the last stop that it turned UNCONFIRMED
  // when opened, for their request-outcome events. Once.
  std::vector<RequestRecord> TakeRecovered();

  // Stores `request` (canonical ids, request id set) for `ttl`, committed
  // before it returns. A request id stored before answers its record
  // (inserted=false) if the request is the same (device and `digest`, which
  // is kept on disk, so StableDigestOf, never the per-process DigestOf),
  // else INVALID_ARGUMENT. RESOURCE_EXHAUSTED naming the limit when full.
  absl::StatusOr<Enqueued> Enqueue(const SendDeviceRequestRequest& request, RequestCorrelator::Digest digest,
                                   absl::Duration ttl);

  // Whether the store holds `request_id`. O(1), no disk.
  bool Knows(const std::string& request_id) const;
  absl::StatusOr<std::optional<Stored>> Get(const std::string& request_id);

  // QUEUED requests of `device_id`. O(1), no disk.
  size_t queued_for(const std::string& device_id) const;
  // The first `limit` QUEUED requests of `device_id`, oldest first.
  absl::StatusOr<std::vector<Stored>> Queued(const std::string& device_id, size_t limit);

  // QUEUED → SENT, committed: the caller may now write it to the device.
  // False when it is no longer QUEUED (cancelled or expired meanwhile).
  absl::StatusOr<bool> HandOver(const std::string& request_id);
  // SENT → QUEUED: the device's connection certainly never wrote it.
  absl::Status Requeue(const std::string& request_id);
  // Records the request's progress after it was handed over: `status` with
  // the outcome's times, result and `error`. Records that ended (answered,
  // unconfirmed, or acked on a connection that closed) count toward
  // --request-retention from now. The updated record; nullopt if unknown.
  absl::StatusOr<std::optional<RequestRecord>> Progress(const std::string& request_id, RequestStatus status,
                                                        const hive::bridge::v1::SendDeviceRequestResponse& outcome,
                                                        const std::string& error, bool ended);

  // QUEUED → CANCELLED. CANCELLED stays as is (changed=false).
  // FAILED_PRECONDITION once handed to the device or expired; NOT_FOUND when
  // unknown.
  absl::StatusOr<Cancelled> Cancel(const std::string& request_id);

  // QUEUED requests whose TTL passed by now become EXPIRED; returns them.
  absl::StatusOr<std::vector<RequestRecord>> ExpireDue();
  // Deletes records that ended more than `retention` ago; how many.
  absl::StatusOr<size_t> DeleteEnded(absl::Duration retention);

  Stats stats() const;

 private:
  // What applying one operation did.
  struct Applied {
    absl::Status status;
    std::optional<RequestRecord> record;
    bool changed = false;
  };
  struct Pending;

  RequestQueue(std::unique_ptr<SqliteDb> db, Limits limits, const Clock& clock);
  // Appends `op` (its id, unless set, and replica set here) and waits until
  // this replica has applied it; UNAVAILABLE when it cannot be appended or
  // does not come back within kOpTimeout.
  Applied Submit(QueueOp op);
  Applied ApplyOp(const QueueOp& op);
  absl::StatusOr<Enqueued> EnqueueAt(const SendDeviceRequestRequest& request, RequestCorrelator::Digest digest,
                                     absl::Time queued_at, absl::Time expires_at, bool count_refusal);
  // `claim`/`claimer`: the claim op and its replica in cluster mode, else empty.
  absl::StatusOr<bool> HandOverAt(const std::string& request_id, absl::Time at, const std::string& claim,
                                  const std::string& claimer);
  absl::StatusOr<bool> RequeueAt(const std::string& request_id, const std::string& claim);
  absl::StatusOr<std::optional<RequestRecord>> ProgressAt(const std::string& request_id, RequestStatus status,
                                                          const hive::bridge::v1::SendDeviceRequestResponse& outcome,
                                                          const std::string& error, bool ended, absl::Time at);
  absl::StatusOr<Cancelled> CancelAt(const std::string& request_id, absl::Time at);
  absl::StatusOr<std::optional<RequestRecord>> ExpireAt(const std::string& request_id, absl::Time at);
  absl::StatusOr<std::optional<RequestRecord>> OrphanAt(const std::string& request_id, const std::string& replica,
                                                        absl::Time at);
  absl::StatusOr<std::vector<Stored>> DueLocked(absl::Time at) ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_);
  absl::Status Prepare();
  absl::Status Load();
  absl::StatusOr<std::optional<Stored>> GetLocked(const std::string& request_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_);
  // Refuses one more request of `bytes` for `device_id` when a limit is full;
  // counts the refusal when `count` (in cluster mode every replica applies
  // the refused operation, and only its issuer counts it).
  absl::Status Room(const std::string& device_id, size_t bytes, bool count);
  // Counts a request of `device_id` in (+1) or out (-1) of the QUEUED ones.
  void Count(const std::string& device_id, size_t bytes, int delta);
  void CountEnded(RequestStatus status);
  // Sets the status of `request_id` from `from` to `to` (and ended_at when
  // `ended`); false when it was not `from`.
  absl::StatusOr<bool> Move(const std::string& request_id, RequestStatus from, RequestStatus to, bool ended,
                            absl::Time at) ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_);

  const Limits limits_;
  const Clock& clock_;
  LimitCounters* counters_ = nullptr;
  mutable absl::Mutex db_mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(db_mu_);
  struct Statements;
  std::unique_ptr<Statements> statements_ ABSL_GUARDED_BY(db_mu_);
  int64_t next_seq_ ABSL_GUARDED_BY(db_mu_) = 1;
  std::vector<RequestRecord> recovered_ ABSL_GUARDED_BY(db_mu_);
  // Cluster mode: the winning claim of each claimed request (op id, replica).
  absl::flat_hash_map<std::string, std::pair<std::string, std::string>> claims_ ABSL_GUARDED_BY(db_mu_);

  // Cluster mode (set once by Replicate, before use).
  QueueLog* log_ = nullptr;
  std::string replica_;
  DeviceCallback on_queued_;
  OrphanCallback on_orphaned_;
  std::atomic<bool> caught_up_{true};
  absl::Mutex pending_mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Pending>> pending_ ABSL_GUARDED_BY(pending_mu_);
  // Releases of timed-out claims that could not be appended (the broker was
  // away), appended again when this replica reads its own marker back. At
  // most one per claim a deliverer made while the broker was away.
  std::vector<QueueOp> unsent_releases_ ABSL_GUARDED_BY(pending_mu_);

  // Taken inside db_mu_, never the other way round; never held on the disk.
  mutable absl::Mutex counts_mu_;
  absl::flat_hash_map<std::string, size_t> queued_by_device_ ABSL_GUARDED_BY(counts_mu_);
  absl::flat_hash_set<std::string> ids_ ABSL_GUARDED_BY(counts_mu_);
  size_t queued_ ABSL_GUARDED_BY(counts_mu_) = 0;
  size_t queued_bytes_ ABSL_GUARDED_BY(counts_mu_) = 0;
  absl::flat_hash_map<int, uint64_t> ended_ ABSL_GUARDED_BY(counts_mu_);
};

// Whether a request with `status` has ended: answered, or never to be
// delivered.
bool QueueStatusEnded(RequestStatus status);

}  // namespace hive

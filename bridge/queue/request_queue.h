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
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/clock.h"
#include "bridge/limit_counters.h"
#include "bridge/request_correlator.h"
#include "bridge/state/sqlite_db.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive {

using hive::bridge::v1::RequestRecord;
using hive::bridge::v1::RequestStatus;
using hive::bridge::v1::SendDeviceRequestRequest;

class RequestQueue {
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
  ~RequestQueue();

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
  RequestQueue(std::unique_ptr<SqliteDb> db, Limits limits, const Clock& clock);
  absl::Status Prepare();
  absl::Status Load();
  absl::StatusOr<std::optional<Stored>> GetLocked(const std::string& request_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_);
  // Refuses one more request of `bytes` for `device_id` when a limit is full.
  absl::Status Room(const std::string& device_id, size_t bytes);
  // Counts a request of `device_id` in (+1) or out (-1) of the QUEUED ones.
  void Count(const std::string& device_id, size_t bytes, int delta);
  void CountEnded(RequestStatus status);
  // Sets the status of `request_id` from `from` to `to` (and ended_at when
  // `ended`); false when it was not `from`.
  absl::StatusOr<bool> Move(const std::string& request_id, RequestStatus from, RequestStatus to, bool ended)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_);

  const Limits limits_;
  const Clock& clock_;
  LimitCounters* counters_ = nullptr;
  mutable absl::Mutex db_mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(db_mu_);
  struct Statements;
  std::unique_ptr<Statements> statements_ ABSL_GUARDED_BY(db_mu_);
  int64_t next_seq_ ABSL_GUARDED_BY(db_mu_) = 1;
  std::vector<RequestRecord> recovered_ ABSL_GUARDED_BY(db_mu_);

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

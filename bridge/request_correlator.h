// bridge/request_correlator.h
// Matches device responses to pending SendDeviceRequest calls by request id,
// and remembers recent outcomes so that a retry with the same request id (the
// idempotency key) never sends the request twice.
//
// Use: the gRPC handler calls Await(). When it answers kSendNow, the handler
// sends the request to the device and then calls MarkSent(), or Fail() when
// sending failed; when it answers kJoined, the request is already in flight or
// recently done, and the handler sends nothing. The WebSocket session reports
// the device's responses with OnAck() and OnResult(), and its disconnection
// with FailAllFor(). A periodic timer calls ExpireDue(), which enforces the
// waiters' deadlines (so its period is their resolution) and forgets old
// entries.
//
//   auto registration = correlator.Await(request_id, device_id, WAIT_MODE_ACK,
//                                        deadline, std::move(finish));
//   if (registration.role == RequestCorrelator::Role::kSendNow) {
//     absl::Status sent = session.Send(frame);
//     if (sent.ok()) correlator.MarkSent(request_id, registration.waiter);
//     else correlator.Fail(request_id, registration.waiter, sent);
//   }
//
// Limits (Options): a request counts as pending while a caller waits for it;
// Await refuses a request with RESOURCE_EXHAUSTED, naming the limit, when its
// device already has max_pending_per_device pending requests or the
// correlator max_pending. A retry that joins a request already pending, or
// that the stored outcome answers at once, takes no further place.
//
// Thread-safe, with no global lock: entries live in shards by request id, each
// with its own mutex, and the per-device counts in shards by device id. Every
// waiter's Done runs exactly once: with the outcome, or with an error when its
// deadline passes, it is cancelled, the device disconnects or the correlator
// shuts down. Done never runs under a lock of the correlator, so it may call
// back into it.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/clock.h"
#include "bridge/limit_counters.h"
#include "google/protobuf/map.h"
#include "google/protobuf/struct.pb.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive {

using hive::bridge::v1::SendDeviceRequestResponse;
using hive::bridge::v1::WaitMode;

class RequestCorrelator {
 public:
  // Receives the waiter's outcome: the request's status, timings and result,
  // or why there is none.
  using Done = absl::AnyInvocable<void(absl::StatusOr<SendDeviceRequestResponse>) &&>;
  // Names one waiter of a request, for Cancel(); the waiter that was told
  // kSendNow also passes it to MarkSent() or Fail().
  using WaiterId = uint64_t;

  struct Options {
    // How long an entry is remembered once it has no waiters and no news:
    // a retry within this window joins it instead of sending again.
    absl::Duration dedupe_window = absl::Minutes(5);
    // Pending requests (callers waiting) per device and in all; 0 means no
    // limit.
    size_t max_pending_per_device = 0;
    size_t max_pending = 0;
    // Where refusals are counted; may be null.
    LimitCounters* counters = nullptr;
  };

  enum class Role {
    // The request id is new: the caller must send the request now.
    kSendNow,
    // The request id is in flight or recently done (or was rejected): the
    // caller must not send; Done completes from the existing entry.
    kJoined,
  };

  struct Registration {
    Role role = Role::kSendNow;
    WaiterId waiter = 0;
  };

  // The device's final answer to a request.
  struct DeviceResult {
    bool succeeded = false;
    // Whether the device sent a `result` object (a failure often has none).
    bool has_result = false;
    google::protobuf::Struct result;
    // Numbers in `result` a double cannot hold exactly: JSON Pointer → literal.
    google::protobuf::Map<std::string, std::string> exact_numbers;
    std::string error;
  };

  RequestCorrelator(const Clock& clock, Options options);
  // Waiters still pending complete with UNAVAILABLE; their Done must not call
  // back into the correlator.
  ~RequestCorrelator();

  RequestCorrelator(const RequestCorrelator&) = delete;
  RequestCorrelator& operator=(const RequestCorrelator&) = delete;

  // Adds a waiter for `request_id` on `device_id` that completes once the
  // request reaches `mode` (WAIT_MODE_UNSPECIFIED is WAIT_MODE_ACK) or at
  // `deadline`, whichever comes first. A joined waiter whose mode the request
  // has already reached completes at once with the stored outcome. A request
  // id already used for another device completes `done` at once with
  // INVALID_ARGUMENT, and one over a pending limit with RESOURCE_EXHAUSTED
  // (both answer kJoined: nothing is to be sent).
  Registration Await(const std::string& request_id, const std::string& device_id, WaitMode mode, absl::Time deadline,
                     Done done);

  // The request was handed to the device's connection: stamps `sent_at`, from
  // which latencies are measured, and completes WAIT_MODE_NONE waiters with
  // REQUEST_STATUS_SENT. `sender` is the waiter Await told kSendNow; a stale
  // sender (its entry was failed and the id reused since) changes nothing.
  void MarkSent(const std::string& request_id, WaiterId sender);

  // Sending failed: fails every waiter of the request with `why` and forgets
  // it, so that a retry sends again. A stale `sender` changes nothing.
  void Fail(const std::string& request_id, WaiterId sender, const absl::Status& why);

  // `device_id` acknowledged `request_id`: completes the waiters waiting for
  // the ack with REQUEST_STATUS_ACKED and `ack_latency`. Returns false when no
  // such request of that device is known.
  bool OnAck(const std::string& device_id, const std::string& request_id);

  // `device_id` answered `request_id`: completes every waiter still waiting
  // (a result implies the ack) with REQUEST_STATUS_SUCCEEDED or _FAILED,
  // `result_latency` and the result. Only the first result counts. Returns
  // false when no such request of that device is known.
  bool OnResult(const std::string& device_id, const std::string& request_id, DeviceResult result);

  // The device disconnected: its requests not yet acked fail every waiter with
  // `why` and are forgotten (a retry sends again); its acked requests fail the
  // waiters still waiting for a result and keep their outcome. It does not
  // know connections, so call it before a connection that replaces this one
  // can take requests, or it fails theirs too.
  void FailAllFor(const std::string& device_id, const absl::Status& why);

  // Shutdown: fails every waiter with `why` and forgets every request.
  void FailAll(const absl::Status& why);

  // The caller of `waiter` gave up: completes it with CANCELLED, unless it
  // has completed already. The request itself stays.
  void Cancel(const std::string& request_id, WaiterId waiter);

  // Fails waiters past their deadline with DEADLINE_EXCEEDED and forgets
  // entries that have had neither waiters nor news for the dedupe window.
  void ExpireDue();

  // The number of requests with at least one waiter.
  size_t pending() const;

 private:
  struct Waiter {
    WaiterId id;
    WaitMode mode;
    absl::Time deadline;
    Done done;
  };

  struct Entry {
    std::string device_id;
    // Whose send MarkSent and Fail answer for.
    WaiterId sender = 0;
    // Its status says how far the request got; REQUEST_STATUS_UNSPECIFIED
    // until it is sent.
    SendDeviceRequestResponse outcome;
    std::vector<Waiter> waiters;
    // When the outcome last changed or a waiter last came or went.
    absl::Time touched;
    // Whether the request counts as pending (see TakePlace): from the first
    // waiter that has to wait until no waiter is left.
    bool holds_place = false;
  };

  // A Done with its outcome, run once the shard's lock is released.
  struct Completion {
    Done done;
    absl::StatusOr<SendDeviceRequestResponse> outcome;
  };

  using EntryMap = absl::flat_hash_map<std::string, Entry>;

  // Pending requests by device, for max_pending_per_device.
  struct alignas(ABSL_CACHELINE_SIZE) DeviceShard {
    absl::Mutex mu;
    absl::flat_hash_map<std::string, size_t> pending ABSL_GUARDED_BY(mu);
  };

  // Cache-line aligned so that threads working on neighbouring shards do not
  // contend for the same line.
  struct alignas(ABSL_CACHELINE_SIZE) Shard {
    mutable absl::Mutex mu;
    EntryMap entries ABSL_GUARDED_BY(mu);
    // Request ids by device, so that a disconnect touches only its device's
    // entries instead of scanning them all.
    absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> by_device ABSL_GUARDED_BY(mu);
    // Unique per request id for the correlator's lifetime, since an id always
    // maps to the same shard: a stale id can never name a newer waiter.
    WaiterId next_waiter ABSL_GUARDED_BY(mu) = 1;
    // No waiter's deadline is earlier (a lower bound: completed waiters do
    // not raise it), so ExpireDue skips the shard until then.
    absl::Time next_deadline ABSL_GUARDED_BY(mu) = absl::InfiniteFuture();
    // When ExpireDue next looks for entries to forget.
    absl::Time next_sweep ABSL_GUARDED_BY(mu) = absl::InfinitePast();
  };

  static constexpr size_t kShardBits = 4;

  Shard& ShardFor(const std::string& request_id);
  DeviceShard& DeviceShardFor(const std::string& device_id);
  // Counts a request of `device_id` as pending, or says which limit is full.
  // Called with the request's shard locked (device shards lock inside it).
  absl::Status TakePlace(const std::string& device_id);
  void GiveBackPlace(const std::string& device_id);
  // Moves the waiters of `entry` that `leaves` selects into `ready`, each with
  // the outcome `outcome_for` gives it; the entry gives back its place once
  // no waiter is left.
  template <typename Leaves, typename OutcomeFor>
  void Release(Entry& entry, absl::Time now, Leaves leaves, OutcomeFor outcome_for, std::vector<Completion>& ready);
  // Releases the waiters whose mode the entry's outcome has reached.
  void Settle(Entry& entry, absl::Time now, std::vector<Completion>& ready);
  // Releases every waiter of `entry` with `why`.
  void ReleaseAll(Entry& entry, absl::Time now, const absl::Status& why, std::vector<Completion>& ready);
  void Forget(Shard& shard, EntryMap::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // Runs the completions in `ready` and empties it; call with no lock held.
  static void RunAll(std::vector<Completion>& ready);
  // Applies `respond` to the entry of `request_id` if it was sent to
  // `device_id` (false when there is none); when `respond` changed the
  // outcome, completes the waiters it satisfies.
  bool Respond(const std::string& device_id, const std::string& request_id,
               absl::FunctionRef<bool(Entry&, absl::Time)> respond);

  const Clock& clock_;
  const Options options_;
  std::array<Shard, size_t{1} << kShardBits> shards_;
  std::array<DeviceShard, size_t{1} << kShardBits> device_shards_;
  // Requests holding a place, for max_pending.
  std::atomic<size_t> pending_places_{0};
};

}  // namespace hive

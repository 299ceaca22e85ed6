// bridge/request_correlator.h
// Matches device responses to pending SendDeviceRequest calls by request id,
// and remembers recent outcomes so that a retry with the same request id (the
// idempotency key) never sends the request twice.
//
// Use: the gRPC handler calls Await(). When it answers kSendNow, the handler
// hands the frame to the device's connection (DeviceLink::SendRequest), or
// calls Fail() when the connection refused it; when it answers kJoined, the
// request is already in flight or recently done, and the handler sends
// nothing. The connection's I/O thread calls MarkSent() at the moment it
// writes the frame, naming itself, or Fail() when it closed before writing
// (the request certainly never left, so a retry may send it). The session
// reports the device's responses with OnAck() and OnResult(), and its close
// with FailAllFor(), which touches only the requests written on that
// connection. A periodic timer calls ExpireDue(), which enforces the waiters'
// deadlines (so its period is their resolution) and forgets old entries.
//
//   auto registration = correlator.Await(request_id, device_id, digest, WAIT_MODE_ACK,
//                                        deadline, std::move(finish));
//   if (registration.role == RequestCorrelator::Role::kSendNow) {
//     absl::Status queued = link.SendRequest(frame, request_id, registration.waiter);
//     if (!queued.ok()) correlator.Fail(request_id, registration.waiter, queued);
//   }
//
// The delivery guarantee (docs/protocol.md#delivery-guarantee): at most once
// per request id while the outcome is remembered. A request written on a
// connection that closed before the device answered is "delivered, outcome
// unknown": its waiters, and retries until the device answers, get ABORTED,
// never a second send. A retry with the same id but another device, command
// or state gets INVALID_ARGUMENT.
//
// Limits (Options): a request counts as pending while a caller waits for it;
// Await refuses a request with RESOURCE_EXHAUSTED, naming the limit, when its
// device already has max_pending_per_device pending requests or the
// correlator max_pending. A retry that joins a request already pending, or
// that the stored outcome answers at once, takes no further place.
// Remembered outcomes are bounded by count and by an estimate of their bytes
// (kEntryOverheadBytes, kFrozenOverheadBytes), each shard holding its share
// of the budget; over budget, the least recently touched entry without
// waiters is forgotten first. Requests whose id the bridge made up
// (IdSource::kBridge) cannot be retried, so they are forgotten as soon as
// their result is in and nobody waits.
//
// Memory: a request is live (an Entry, everything unpacked) while someone
// waits for it, and packed into a FrozenRequest (about 100 bytes) once
// nobody does: it spends almost all of its remembered life so. A connection's
// close marks the frozen requests it carried lazily (Closed): they are only
// counted per connection, not listed, and hear of the close when next
// thawed, so a frozen request costs nothing in the connection index.
//
// Thread-safe, with no global lock: entries live in shards by request id, each
// with its own mutex, and the per-device counts in shards by device id. Every
// waiter's Done runs exactly once: with the outcome, or with an error when its
// deadline passes, it is cancelled, the connection closes or the correlator
// shuts down. Done never runs under a lock of the correlator, so it may call
// back into it. No operation walks every entry: deadlines are ordered, idle
// entries are in a list by age, and written requests are indexed (or counted)
// by their connection.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/clock.h"
#include "bridge/frozen_request.h"
#include "bridge/limit_counters.h"
#include "bridge/request_origins.h"
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
  // kSendNow also passes it (through the link) to MarkSent() or Fail().
  using WaiterId = uint64_t;
  // Names one device connection for the process's lifetime (never reused),
  // so a closing connection fails only what it carried. 0 is no connection.
  using ConnectionId = uint64_t;
  // What a request asks of its device (device id, command, state), hashed:
  // a retry must ask the same. See DigestOf in bridge/device_delivery.h.
  using Digest = uint64_t;

  // Who chose the request id.
  enum class IdSource {
    // The caller: it may retry with the id, so the outcome is remembered.
    kCaller,
    // The bridge made it up: nobody can retry, so the entry is forgotten once
    // its result is in and nobody waits (a late ack or result still finds it
    // until then).
    kBridge,
  };

  // Who hears of a request's progress besides its waiters.
  enum class Watch : uint8_t {
    kNone,
    // The caller asked for request-outcome events (outcome_events).
    kEvents,
    // A queued request being delivered: the request queue records each change
    // (and publishes its events).
    kQueued,
  };

  // Who a request is for and who is told of its progress; see Await.
  struct Tracking {
    // The device's account, for GetRequest's access check and for events.
    std::string account_id;
    // No initializer, so that `Tracking{}` may be a default argument inside
    // the class; value-initialised it is kNone.
    Watch watch;
  };

  // One change of a watched request's outcome.
  struct OutcomeChange {
    std::string request_id;
    std::string device_id;
    std::string account_id;
    Watch watch = Watch::kNone;
    // The outcome after the change: SENT, ACKED, SUCCEEDED or FAILED.
    SendDeviceRequestResponse outcome;
    // Its connection closed before the device answered (`closed_how`): the
    // device may have it (SENT) or is carrying it out (ACKED), but no answer
    // will come on that connection.
    bool unconfirmed = false;
    std::string closed_how;
  };

  // Told of every change of a watched request's outcome (Tracking::watch):
  // written, acknowledged, answered, or its connection closed before the
  // answer. Not told when a request was certainly not written (Fail): its
  // sender's waiter hears that. Called outside the correlator's locks on the
  // thread that caused the change, often a device's I/O thread, so it must
  // only queue work, never block.
  class OutcomeObserver {
   public:
    virtual ~OutcomeObserver() = default;
    virtual void OnOutcome(OutcomeChange change) = 0;
  };

  // What the correlator knows of a request now (Find), for GetRequest.
  struct Known {
    std::string device_id;
    // Empty when the request was registered without one (Tracking).
    std::string account_id;
    // REQUEST_STATUS_UNSPECIFIED until written.
    SendDeviceRequestResponse outcome;
    bool unconfirmed = false;
    std::string closed_how;
  };

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
    // Remembered requests, by count and by estimated bytes (kEntryOverheadBytes, kFrozenOverheadBytes); 0
    // means no limit. Each shard holds its share (rounded up), so the whole
    // may pass the budget by less than one entry per shard.
    size_t max_remembered = 500'000;
    size_t max_remembered_bytes = size_t{64} << 20;
    // Shards of the entry table: a power of two from 1 to 64. Tests use 1 to
    // see the budget's order exactly.
    size_t shards = 16;
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

  // What the correlator remembers, for /metrics.
  struct Memory {
    size_t entries = 0;
    size_t bytes = 0;
    // Entries forgotten to stay within the budget, and after the window.
    uint64_t forgotten_budget = 0;
    uint64_t forgotten_window = 0;
    // Calls whose request id was in flight or remembered, answered from that
    // entry instead of being sent again (dedupe hits).
    uint64_t retries_joined = 0;
  };

  // The estimated cost of a request while someone waits for it (a live
  // entry): this fixed overhead (the map's node, the entry, the outcome's
  // time submessages, its place in the indexes) plus the sizes of its request
  // id and close reason and the serialized size of its outcome. Its device
  // and account are interned (RequestOrigins), shared by all its requests.
  static constexpr size_t kEntryOverheadBytes = 768;
  // The estimated cost of a request nobody waits for (almost all remembered
  // ones): its FrozenRequest's exact size plus this, its slot in the index
  // (8 bytes and a control byte at the table's load) and the allocator's
  // rounding and header. Measured, not guessed: correlator_bench's
  // BM_RememberedBytes.
  static constexpr size_t kFrozenOverheadBytes = 24;

  RequestCorrelator(const Clock& clock, Options options);
  // Waiters still pending complete with UNAVAILABLE; their Done must not call
  // back into the correlator.
  ~RequestCorrelator();

  RequestCorrelator(const RequestCorrelator&) = delete;
  RequestCorrelator& operator=(const RequestCorrelator&) = delete;

  // Adds a waiter for `request_id` on `device_id` that completes once the
  // request reaches `mode` (WAIT_MODE_UNSPECIFIED is WAIT_MODE_ACK) or at
  // `deadline`, whichever comes first. A joined waiter whose mode the request
  // has already reached completes at once with the stored outcome; one whose
  // request's connection closed before the device answered completes at once
  // with ABORTED. A request id already used for another device or another
  // `digest` completes `done` at once with INVALID_ARGUMENT, and one over a
  // pending limit with RESOURCE_EXHAUSTED (all answer kJoined: nothing is to
  // be sent).
  // `tracking` names the device's account and whether the observer hears of
  // the request (a joining retry changes neither).
  Registration Await(const std::string& request_id, const std::string& device_id, Digest digest, WaitMode mode,
                     absl::Time deadline, Done done, IdSource source = IdSource::kCaller, Tracking tracking = {});

  // Tells `observer` of the outcome changes of watched requests from now on;
  // set once, before requests flow. It must outlive the correlator's use.
  void Observe(OutcomeObserver* observer) { observer_ = observer; }

  // What the correlator remembers of `request_id`, if anything. Read-only.
  std::optional<Known> Find(const std::string& request_id) const;

  // The connection `connection` is writing the request now (call it on the
  // connection's I/O thread, just before the write): stamps `sent_at`, from
  // which latencies are measured, records the connection, and completes
  // WAIT_MODE_NONE waiters with REQUEST_STATUS_SENT. `sender` is the waiter
  // Await told kSendNow; a stale sender (its entry was failed and the id
  // reused since) changes nothing.
  void MarkSent(const std::string& request_id, WaiterId sender, ConnectionId connection);

  // The request was certainly not written: fails every waiter of the request
  // with `why` and forgets it, so that a retry sends again. A stale `sender`,
  // or a request already written, changes nothing.
  void Fail(const std::string& request_id, WaiterId sender, const absl::Status& why);

  // `device_id` acknowledged `request_id`: completes the waiters waiting for
  // the ack with REQUEST_STATUS_ACKED and `ack_latency`. Returns false when no
  // such request of that device is known. The device may answer on any of
  // its connections.
  bool OnAck(const std::string& device_id, const std::string& request_id);

  // `device_id` answered `request_id`: completes every waiter still waiting
  // (a result implies the ack) with REQUEST_STATUS_SUCCEEDED or _FAILED,
  // `result_latency` and the result. Only the first result counts. Returns
  // false when no such request of that device is known.
  bool OnResult(const std::string& device_id, const std::string& request_id, DeviceResult result);

  // `connection` of `device_id` closed (`how`, e.g. "close code 1006"): the
  // requests written on it that the device has not answered become
  // "delivered, outcome unknown". Their waiters still waiting complete with
  // ABORTED, and the entries stay, so a retry answers ABORTED instead of
  // sending again, until the device answers (on a new connection) or the
  // entry is forgotten. Requests queued but not yet written on it are not
  // touched here: the connection's thread fails them when it drops them.
  void FailAllFor(const std::string& device_id, ConnectionId connection, absl::string_view how);

  // Shutdown: fails every waiter with `why` and forgets every request.
  void FailAll(const absl::Status& why);

  // The caller of `waiter` gave up: completes it with CANCELLED, unless it
  // has completed already. The request itself stays.
  void Cancel(const std::string& request_id, WaiterId waiter);

  // Fails waiters past their deadline with DEADLINE_EXCEEDED and forgets
  // entries that have had neither waiters nor news for the dedupe window.
  // Touches only what is due.
  void ExpireDue();

  // The number of requests with at least one waiter. O(1).
  size_t pending() const { return pending_places_.load(std::memory_order_relaxed); }

  Memory remembered() const;

 private:
  struct Waiter {
    WaiterId id;
    WaitMode mode;
    absl::Time deadline;
    Done done;
  };

  // A request someone waits for (or one being changed): everything about
  // it, unpacked. Once nobody waits, it is packed into a FrozenRequest.
  struct Entry {
    // The map's key; nodes do not move.
    const std::string* request_id = nullptr;
    // Its device and account, interned (origins_).
    const RequestOrigin* origin = nullptr;
    Digest digest = 0;
    IdSource source = IdSource::kCaller;
    Watch watch = Watch::kNone;
    // Whose send MarkSent and Fail answer for.
    WaiterId sender = 0;
    // The connection that wrote it; 0 until written.
    ConnectionId connection = 0;
    // Set when that connection closed before the device answered: how it
    // closed. Retries whose mode is not reached get ABORTED.
    bool orphaned = false;
    std::string closed_how;
    // Its status says how far the request got; REQUEST_STATUS_UNSPECIFIED
    // until it is sent.
    SendDeviceRequestResponse outcome;
    std::vector<Waiter> waiters;
    // When the outcome last changed or a waiter last came or went.
    absl::Time touched;
    // Whether the request counts as pending (see TakePlace): from the first
    // waiter that has to wait until no waiter is left.
    bool holds_place = false;
    // Its share of the shard's bytes (Charge).
    size_t bytes = 0;

    const std::string& device_id() const { return origin->device_id; }
  };

  // The requests one open connection wrote that the device has not answered
  // yet, so that its close touches only them: live entries and watched
  // frozen ones (the close tells their waiters and observers). The other
  // frozen ones are only counted (Shard::quiet): their close is applied when
  // they are next looked at (Closed).
  struct Written {
    absl::flat_hash_set<Entry*> live;
    absl::flat_hash_set<FrozenRequest*> watched;
  };

  // A closed connection that still had `quiet` frozen requests in flight:
  // each is marked orphaned (`how`) when it is next thawed, and the entry
  // goes once none is left. Bounded by the remembered requests.
  struct Closed {
    std::string how;
    size_t quiet = 0;
  };

  // A Done with its outcome, run once the shard's lock is released.
  struct Completion {
    Done done;
    absl::StatusOr<SendDeviceRequestResponse> outcome;
  };

  // Nodes, so that the deadlines and the connection index may point at
  // entries.
  using EntryMap = absl::node_hash_map<std::string, Entry>;

  // Pending requests by device, for max_pending_per_device.
  struct alignas(ABSL_CACHELINE_SIZE) DeviceShard {
    absl::Mutex mu;
    absl::flat_hash_map<std::string, size_t> pending ABSL_GUARDED_BY(mu);
  };

  // Cache-line aligned so that threads working on neighbouring shards do not
  // contend for the same line.
  struct alignas(ABSL_CACHELINE_SIZE) Shard {
    mutable absl::Mutex mu;
    // Every request is in exactly one of these: live while someone waits for
    // it (or an operation is changing it), frozen otherwise.
    EntryMap live ABSL_GUARDED_BY(mu);
    FrozenRequests frozen ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<ConnectionId, Written> by_connection ABSL_GUARDED_BY(mu);
    // Unwatched frozen requests in flight, by the open connection that wrote
    // them: 16 bytes per connection, nothing per request.
    absl::flat_hash_map<ConnectionId, size_t> quiet ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<ConnectionId, Closed> closed ABSL_GUARDED_BY(mu);
    // Every waiter by (deadline, id): ExpireDue pops the due ones from the
    // front.
    absl::btree_map<std::pair<absl::Time, WaiterId>, Entry*> deadlines ABSL_GUARDED_BY(mu);
    // The frozen requests, least recently touched first (each is packed, so
    // appended, when it was last touched).
    FrozenRequest* idle_head ABSL_GUARDED_BY(mu) = nullptr;
    FrozenRequest* idle_tail ABSL_GUARDED_BY(mu) = nullptr;
    size_t bytes ABSL_GUARDED_BY(mu) = 0;
    // Unique per request id for the correlator's lifetime, since an id always
    // maps to the same shard: a stale id can never name a newer waiter.
    WaiterId next_waiter ABSL_GUARDED_BY(mu) = 1;

    size_t entries() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return live.size() + frozen.size(); }
  };

  static constexpr size_t kDeviceShardBits = 4;

  Shard& ShardFor(const std::string& request_id) const;
  // Adds the change of `entry` to `changed` when it is watched.
  void Note(const Entry& entry, std::vector<OutcomeChange>& changed) const;
  // Tells the observer of `changed` and empties it; call with no lock held.
  void Tell(std::vector<OutcomeChange>& changed);
  DeviceShard& DeviceShardFor(const std::string& device_id);
  // Counts a request of `device_id` as pending, or says which limit is full.
  // Called with the request's shard locked (device shards lock inside it).
  absl::Status TakePlace(const std::string& device_id);
  void GiveBackPlace(const std::string& device_id);
  // Moves the waiters of `entry` that `leaves` selects into `ready`, each with
  // the outcome `outcome_for` gives it; the entry gives back its place once
  // no waiter is left.
  template <typename Leaves, typename OutcomeFor>
  void Release(Shard& shard, Entry& entry, Leaves leaves, OutcomeFor outcome_for, std::vector<Completion>& ready)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // Releases the waiters whose mode the entry's outcome has reached.
  void Settle(Shard& shard, Entry& entry, std::vector<Completion>& ready) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // Releases every waiter of `entry` with `why`.
  void ReleaseAll(Shard& shard, Entry& entry, const absl::Status& why, std::vector<Completion>& ready)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // What Await was asked.
  struct Asked {
    const std::string& request_id;
    const std::string& device_id;
    Digest digest;
    WaitMode mode;
    absl::Time deadline;
    IdSource source;
    Tracking tracking;
  };
  // Await under the shard's lock.
  Registration Join(Shard& shard, Asked asked, Done done, absl::Time now, std::vector<Completion>& ready)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // A new live entry for what was asked, sent by `sender`.
  Entry& Insert(Shard& shard, Asked& asked, WaiterId sender) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // INVALID_ARGUMENT when the request known as `asked.request_id` is for
  // `device_id` and `digest` and the asked one is not the same.
  static absl::Status SameRequest(const Asked& asked, absl::string_view device_id, Digest digest);
  // Re-estimates the entry's bytes after its outcome changed.
  void Charge(Shard& shard, Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  void AddBytes(Shard& shard, size_t bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  void SubtractBytes(Shard& shard, size_t bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // The live entry of `request_id`, or null (it may be frozen, or unknown).
  Entry* FindLive(Shard& shard, absl::string_view request_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // The close of `frozen`'s connection it has not applied yet, or null.
  static const Closed* PendingClose(const Shard& shard, const FrozenRequest& frozen)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  FrozenRequest* FindFrozen(const Shard& shard, absl::string_view request_id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // After anything happened to `entry` (touched at `now`): Settled.
  void Touched(Shard& shard, Entry& entry, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // When nobody waits for `entry`: freezes it, or forgets it when nobody can
  // ask for it again. `entry` may be gone afterwards.
  void Settled(Shard& shard, Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // Packs `entry` (no waiters) into a frozen request at the idle list's back.
  void Freeze(Shard& shard, Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // Unpacks `frozen` into a live entry, and applies its connection's close
  // if that closed since.
  Entry& Thaw(Shard& shard, FrozenRequest& frozen) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // Unpacks `frozen` into a live entry, nothing more.
  Entry& Unpack(Shard& shard, FrozenRequest& frozen) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // Takes an in-flight frozen request off its connection's books: how the
  // connection closed, when it closed since it was frozen.
  std::optional<std::string> Unbook(Shard& shard, FrozenRequest& frozen) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // Takes `frozen` out of the index and the idle list.
  void Unfile(Shard& shard, FrozenRequest& frozen) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // Takes `entry` off its connection's written requests.
  void UnbookLive(Shard& shard, Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // Forgets idle requests, least recently touched first, while the shard is
  // over its budget.
  void KeepWithinBudget(Shard& shard) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  void Forget(Shard& shard, Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  void Forget(Shard& shard, FrozenRequest& frozen) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // Runs the completions in `ready` and empties it; call with no lock held.
  static void RunAll(std::vector<Completion>& ready);
  // Applies `respond` to the entry of `request_id` if it was sent to
  // `device_id` (false when there is none) and `changes` says its status
  // changes by it, then completes the waiters it satisfies.
  bool Respond(const std::string& device_id, const std::string& request_id,
               absl::FunctionRef<bool(hive::bridge::v1::RequestStatus)> changes,
               absl::FunctionRef<void(Entry&, absl::Time)> respond);

  const Clock& clock_;
  RequestOrigins origins_;
  const Options options_;
  OutcomeObserver* observer_ = nullptr;
  const size_t shard_bits_;
  const size_t shard_max_entries_;
  const size_t shard_max_bytes_;
  const std::unique_ptr<Shard[]> shards_;
  std::array<DeviceShard, size_t{1} << kDeviceShardBits> device_shards_;
  // Requests holding a place, for max_pending and pending().
  std::atomic<size_t> pending_places_{0};
  std::atomic<size_t> remembered_entries_{0};
  std::atomic<size_t> remembered_bytes_{0};
  std::atomic<uint64_t> forgotten_budget_{0};
  std::atomic<uint64_t> forgotten_window_{0};
  std::atomic<uint64_t> retries_joined_{0};
};

}  // namespace hive

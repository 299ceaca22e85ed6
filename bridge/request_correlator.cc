// bridge/request_correlator.cc
#include "bridge/request_correlator.h"

#include <algorithm>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

namespace hive {
namespace {

using hive::bridge::v1::RequestStatus;
using TimeUtil = google::protobuf::util::TimeUtil;

WaitMode Normalized(WaitMode mode) {
  switch (mode) {
    case hive::bridge::v1::WAIT_MODE_NONE:
    case hive::bridge::v1::WAIT_MODE_RESULT:
      return mode;
    default:
      return hive::bridge::v1::WAIT_MODE_ACK;
  }
}

bool Answered(RequestStatus status) {
  return status == hive::bridge::v1::REQUEST_STATUS_SUCCEEDED || status == hive::bridge::v1::REQUEST_STATUS_FAILED;
}

bool Acked(RequestStatus status) { return status == hive::bridge::v1::REQUEST_STATUS_ACKED || Answered(status); }

// Whether a request is written on a connection that is (as far as the
// request knows) still open, and waits for the device's answer there: its
// connection's close concerns it.
bool InFlight(RequestStatus status, uint64_t connection, bool orphaned) {
  return connection != 0 && !Answered(status) && !orphaned;
}

// Whether a request that got as far as `status` satisfies a waiter in `mode`.
bool Reached(RequestStatus status, WaitMode mode) {
  switch (mode) {
    case hive::bridge::v1::WAIT_MODE_NONE:
      return status != hive::bridge::v1::REQUEST_STATUS_UNSPECIFIED;
    case hive::bridge::v1::WAIT_MODE_RESULT:
      return Answered(status);
    default:
      return Acked(status);
  }
}

absl::Status DeadlineExceeded(WaitMode mode) {
  switch (mode) {
    case hive::bridge::v1::WAIT_MODE_NONE:
      return absl::DeadlineExceededError("request not handed to the device within deadline");
    case hive::bridge::v1::WAIT_MODE_RESULT:
      return absl::DeadlineExceededError("no result from device within deadline");
    default:
      return absl::DeadlineExceededError("no ack from device within deadline");
  }
}

// Stamps `sent_at` unless MarkSent already did: the device's response may
// overtake the sender's MarkSent, and then counts as the moment of sending.
absl::Time StampSent(SendDeviceRequestResponse& outcome, absl::Time now) {
  if (!outcome.has_sent_at()) {
    *outcome.mutable_sent_at() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(now));
  }
  return absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(outcome.sent_at()));
}

google::protobuf::Duration ToProto(absl::Duration d) {
  return TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(d));
}

size_t ShardBitsFor(size_t shards) {
  size_t bits = 0;
  while ((size_t{1} << bits) < shards && bits < 6) ++bits;
  return bits;
}

// A shard's share of `budget`, rounded up; 0 (no limit) stays 0.
size_t ShareOf(size_t budget, size_t shard_bits) {
  const size_t shards = size_t{1} << shard_bits;
  return budget == 0 ? 0 : (budget + shards - 1) / shards;
}

// Why a waiter of a request whose connection closed before the device
// answered gets no outcome; also what retries of it are told.
absl::Status Orphaned(const std::string& request_id, RequestStatus status, absl::string_view how) {
  if (Acked(status)) {
    return absl::AbortedError(absl::StrCat("request ", request_id,
                                           " was acknowledged by the device, but its connection closed (", how,
                                           ") before the result; the device may still carry it out, so the bridge "
                                           "will not send it again under this request_id"));
  }
  return absl::AbortedError(absl::StrCat("request ", request_id,
                                         " was written to the device's connection, which closed (", how,
                                         ") before the device acknowledged it; the device may have received it, "
                                         "so the bridge will not send it again under this request_id"));
}

}  // namespace

absl::Status RequestCorrelator::SameRequest(const Asked& asked, absl::string_view device_id, Digest digest) {
  if (device_id != asked.device_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("request_id ", asked.request_id, " already used for another device"));
  }
  if (digest != asked.digest) {
    return absl::InvalidArgumentError(absl::StrCat("request_id ", asked.request_id,
                                                   " already used for a different request (another command or "
                                                   "state); a retry must repeat the request exactly, a new request "
                                                   "needs a new request_id"));
  }
  return absl::OkStatus();
}

RequestCorrelator::RequestCorrelator(const Clock& clock, Options options)
    : clock_(clock),
      options_(options),
      shard_bits_(ShardBitsFor(options.shards)),
      shard_max_entries_(ShareOf(options.max_remembered, shard_bits_)),
      shard_max_bytes_(ShareOf(options.max_remembered_bytes, shard_bits_)),
      shards_(new Shard[size_t{1} << shard_bits_]) {}

RequestCorrelator::~RequestCorrelator() { FailAll(absl::UnavailableError("request correlator shut down")); }

RequestCorrelator::Shard& RequestCorrelator::ShardFor(const std::string& request_id) const {
  if (shard_bits_ == 0) return shards_[0];
  // The top bits pick the shard: the map inside a shard keys its control
  // bytes on the low bits of the same hash, which must stay varied.
  const size_t hash = absl::Hash<std::string>{}(request_id);
  return shards_[hash >> (sizeof(size_t) * 8 - shard_bits_)];
}

void RequestCorrelator::Note(const Entry& entry, std::vector<OutcomeChange>& changed) const {
  if (observer_ == nullptr || entry.watch == Watch::kNone) return;
  changed.push_back({*entry.request_id, entry.device_id(), entry.origin->account_id, entry.watch, entry.outcome,
                     entry.orphaned, entry.closed_how});
}

void RequestCorrelator::Tell(std::vector<OutcomeChange>& changed) {
  for (OutcomeChange& change : changed) observer_->OnOutcome(std::move(change));
  changed.clear();
}

std::optional<RequestCorrelator::Known> RequestCorrelator::Find(const std::string& request_id) const {
  Shard& shard = ShardFor(request_id);
  absl::MutexLock lock(&shard.mu);
  if (auto it = shard.live.find(request_id); it != shard.live.end()) {
    const Entry& entry = it->second;
    return Known{entry.device_id(), entry.origin->account_id, entry.outcome, entry.orphaned, entry.closed_how};
  }
  const FrozenRequest* frozen = FindFrozen(shard, request_id);
  if (frozen == nullptr) return std::nullopt;
  Known known{frozen->origin()->device_id,
              frozen->origin()->account_id,
              {},
              frozen->orphaned(),
              std::string(frozen->closed_how())};
  frozen->RestoreOutcome(known.outcome);
  // A close not yet applied to it (Closed) is part of what is known.
  if (const Closed* closed = PendingClose(shard, *frozen); closed != nullptr) {
    known.unconfirmed = true;
    known.closed_how = closed->how;
  }
  return known;
}

RequestCorrelator::DeviceShard& RequestCorrelator::DeviceShardFor(const std::string& device_id) {
  const size_t hash = absl::Hash<std::string>{}(device_id);
  return device_shards_[hash >> (sizeof(size_t) * 8 - kDeviceShardBits)];
}

absl::Status RequestCorrelator::TakePlace(const std::string& device_id) {
  size_t pending = pending_places_.load(std::memory_order_relaxed);
  do {
    if (options_.max_pending > 0 && pending >= options_.max_pending) {
      CountIn(options_.counters, Limit::kMaxPendingRequests);
      return absl::ResourceExhaustedError(
          absl::StrCat("the bridge already has ", pending, " requests pending (--max-pending-requests); retry later"));
    }
  } while (!pending_places_.compare_exchange_weak(pending, pending + 1, std::memory_order_relaxed));
  if (options_.max_pending_per_device == 0) return absl::OkStatus();
  DeviceShard& shard = DeviceShardFor(device_id);
  absl::MutexLock lock(&shard.mu);
  size_t& of_device = shard.pending[device_id];
  if (of_device >= options_.max_pending_per_device) {
    pending_places_.fetch_sub(1, std::memory_order_relaxed);
    CountIn(options_.counters, Limit::kMaxRequestsPerDevice);
    return absl::ResourceExhaustedError(absl::StrCat("device ", device_id, " already has ", of_device,
                                                     " requests in flight (--max-requests-per-device); retry once "
                                                     "one completes"));
  }
  ++of_device;
  return absl::OkStatus();
}

void RequestCorrelator::GiveBackPlace(const std::string& device_id) {
  pending_places_.fetch_sub(1, std::memory_order_relaxed);
  if (options_.max_pending_per_device == 0) return;
  DeviceShard& shard = DeviceShardFor(device_id);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.pending.find(device_id);
  if (it != shard.pending.end() && --it->second == 0) shard.pending.erase(it);
}

template <typename Leaves, typename OutcomeFor>
void RequestCorrelator::Release(Shard& shard, Entry& entry, Leaves leaves, OutcomeFor outcome_for,
                                std::vector<Completion>& ready) {
  auto stays = entry.waiters.begin();
  for (auto it = entry.waiters.begin(); it != entry.waiters.end(); ++it) {
    if (leaves(*it)) {
      shard.deadlines.erase({it->deadline, it->id});
      ready.push_back({std::move(it->done), outcome_for(*it)});
    } else {
      if (stays != it) *stays = std::move(*it);
      ++stays;
    }
  }
  entry.waiters.erase(stays, entry.waiters.end());
  if (entry.waiters.empty() && entry.holds_place) {
    entry.holds_place = false;
    GiveBackPlace(entry.device_id());
  }
}

void RequestCorrelator::Settle(Shard& shard, Entry& entry, std::vector<Completion>& ready) {
  const RequestStatus status = entry.outcome.status();
  Release(
      shard, entry, [status](const Waiter& w) { return Reached(status, w.mode); },
      [&entry](const Waiter&) { return entry.outcome; }, ready);
}

void RequestCorrelator::ReleaseAll(Shard& shard, Entry& entry, const absl::Status& why,
                                   std::vector<Completion>& ready) {
  Release(
      shard, entry, [](const Waiter&) { return true; }, [&why](const Waiter&) { return why; }, ready);
}

void RequestCorrelator::AddBytes(Shard& shard, size_t bytes) {
  shard.bytes += bytes;
  remembered_bytes_.fetch_add(bytes, std::memory_order_relaxed);
}

void RequestCorrelator::SubtractBytes(Shard& shard, size_t bytes) {
  shard.bytes -= bytes;
  remembered_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
}

void RequestCorrelator::Charge(Shard& shard, Entry& entry) {
  // A live entry with a result lasts only while the result's waiters are
  // told (a result reaches every wait mode), so its serialized size is as
  // good an estimate as walking the Struct; frozen, it is held serialized.
  const size_t bytes =
      kEntryOverheadBytes + entry.request_id->size() + entry.closed_how.size() + entry.outcome.ByteSizeLong();
  SubtractBytes(shard, entry.bytes);
  AddBytes(shard, bytes);
  entry.bytes = bytes;
}

FrozenRequest* RequestCorrelator::FindFrozen(const Shard& shard, absl::string_view request_id) const {
  auto it = shard.frozen.find(request_id);
  return it == shard.frozen.end() ? nullptr : *it;
}

RequestCorrelator::Entry* RequestCorrelator::FindLive(Shard& shard, absl::string_view request_id) {
  auto it = shard.live.find(request_id);
  return it == shard.live.end() ? nullptr : &it->second;
}

const RequestCorrelator::Closed* RequestCorrelator::PendingClose(const Shard& shard, const FrozenRequest& frozen) {
  if (!InFlight(frozen.status(), frozen.connection(), frozen.orphaned())) return nullptr;
  auto it = shard.closed.find(frozen.connection());
  return it == shard.closed.end() ? nullptr : &it->second;
}

void RequestCorrelator::Touched(Shard& shard, Entry& entry, absl::Time now) {
  entry.touched = now;
  Settled(shard, entry);
}

void RequestCorrelator::Settled(Shard& shard, Entry& entry) {
  if (!entry.waiters.empty()) return;
  // Nobody can retry a request id the bridge made up: once the result is in,
  // there is nothing left to match. Before, a late ack or result still must
  // find it (else it counts as a bad frame).
  if (entry.source == IdSource::kBridge && Answered(entry.outcome.status())) {
    Forget(shard, entry);
    return;
  }
  Freeze(shard, entry);
}

void RequestCorrelator::Freeze(Shard& shard, Entry& entry) {
  FrozenRequest::Facts facts;
  facts.request_id = *entry.request_id;
  facts.origin = entry.origin;
  facts.digest = entry.digest;
  facts.source = static_cast<uint8_t>(entry.source);
  facts.watch = static_cast<uint8_t>(entry.watch);
  facts.sender = entry.sender;
  facts.connection = entry.connection;
  facts.orphaned = entry.orphaned;
  facts.closed_how = entry.closed_how;
  facts.outcome = &entry.outcome;
  facts.touched = entry.touched;
  FrozenRequest* frozen = FrozenRequest::Pack(facts);
  if (InFlight(entry.outcome.status(), entry.connection, entry.orphaned)) {
    UnbookLive(shard, entry);
    if (entry.watch == Watch::kNone) {
      ++shard.quiet[entry.connection];
    } else {
      shard.by_connection[entry.connection].watched.insert(frozen);
    }
  }
  SubtractBytes(shard, entry.bytes);
  AddBytes(shard, kFrozenOverheadBytes + frozen->bytes());
  shard.live.erase(*entry.request_id);
  shard.frozen.insert(frozen);
  frozen->idle_prev() = shard.idle_tail;
  (shard.idle_tail == nullptr ? shard.idle_head : shard.idle_tail->idle_next()) = frozen;
  shard.idle_tail = frozen;
}

void RequestCorrelator::Unfile(Shard& shard, FrozenRequest& frozen) {
  FrozenRequest* prev = frozen.idle_prev();
  FrozenRequest* next = frozen.idle_next();
  (prev == nullptr ? shard.idle_head : prev->idle_next()) = next;
  (next == nullptr ? shard.idle_tail : next->idle_prev()) = prev;
  shard.frozen.erase(&frozen);
  SubtractBytes(shard, kFrozenOverheadBytes + frozen.bytes());
}

RequestCorrelator::Entry& RequestCorrelator::Unpack(Shard& shard, FrozenRequest& frozen) {
  Unfile(shard, frozen);

  auto it = shard.live.try_emplace(frozen.RequestId()).first;
  Entry& entry = it->second;
  entry.request_id = &it->first;
  entry.origin = frozen.origin();
  entry.digest = frozen.digest();
  entry.source = static_cast<IdSource>(frozen.source());
  entry.watch = static_cast<Watch>(frozen.watch());
  entry.sender = frozen.sender();
  entry.connection = frozen.connection();
  entry.orphaned = frozen.orphaned();
  entry.closed_how = std::string(frozen.closed_how());
  frozen.RestoreOutcome(entry.outcome);
  entry.touched = frozen.touched();
  FrozenRequest::Destroy(&frozen);
  Charge(shard, entry);
  return entry;
}

std::optional<std::string> RequestCorrelator::Unbook(Shard& shard, FrozenRequest& frozen) {
  if (!InFlight(frozen.status(), frozen.connection(), frozen.orphaned())) return std::nullopt;
  const ConnectionId connection = frozen.connection();
  if (auto closed = shard.closed.find(connection); closed != shard.closed.end()) {
    std::string how = closed->second.how;
    if (--closed->second.quiet == 0) shard.closed.erase(closed);
    return how;
  }
  if (frozen.watch() != static_cast<uint8_t>(Watch::kNone)) {
    if (auto it = shard.by_connection.find(connection); it != shard.by_connection.end()) {
      it->second.watched.erase(&frozen);
      if (it->second.live.empty() && it->second.watched.empty()) shard.by_connection.erase(it);
    }
  } else if (auto it = shard.quiet.find(connection); it != shard.quiet.end() && --it->second == 0) {
    shard.quiet.erase(it);
  }
  return std::nullopt;
}

RequestCorrelator::Entry& RequestCorrelator::Thaw(Shard& shard, FrozenRequest& frozen) {
  std::optional<std::string> closed_how = Unbook(shard, frozen);
  Entry& entry = Unpack(shard, frozen);
  if (closed_how.has_value()) {
    // Its connection closed while it was frozen (FailAllFor): what the close
    // did to the live requests, done now.
    entry.orphaned = true;
    entry.closed_how = std::move(*closed_how);
    Charge(shard, entry);
  } else if (InFlight(entry.outcome.status(), entry.connection, entry.orphaned)) {
    shard.by_connection[entry.connection].live.insert(&entry);
  }
  return entry;
}

void RequestCorrelator::UnbookLive(Shard& shard, Entry& entry) {
  if (entry.connection == 0) return;
  if (auto it = shard.by_connection.find(entry.connection); it != shard.by_connection.end()) {
    Written& written = it->second;
    written.live.erase(&entry);
    if (written.live.empty() && written.watched.empty()) shard.by_connection.erase(it);
  }
}

void RequestCorrelator::KeepWithinBudget(Shard& shard) {
  while (shard.idle_head != nullptr && ((shard_max_entries_ > 0 && shard.entries() > shard_max_entries_) ||
                                        (shard_max_bytes_ > 0 && shard.bytes > shard_max_bytes_))) {
    forgotten_budget_.fetch_add(1, std::memory_order_relaxed);
    Forget(shard, *shard.idle_head);
  }
}

void RequestCorrelator::Forget(Shard& shard, Entry& entry) {
  for (const Waiter& waiter : entry.waiters) shard.deadlines.erase({waiter.deadline, waiter.id});
  if (entry.holds_place) GiveBackPlace(entry.device_id());
  UnbookLive(shard, entry);
  SubtractBytes(shard, entry.bytes);
  remembered_entries_.fetch_sub(1, std::memory_order_relaxed);
  origins_.Release(entry.origin);
  shard.live.erase(*entry.request_id);
}

void RequestCorrelator::Forget(Shard& shard, FrozenRequest& frozen) {
  Unbook(shard, frozen);
  Unfile(shard, frozen);
  remembered_entries_.fetch_sub(1, std::memory_order_relaxed);
  origins_.Release(frozen.origin());
  FrozenRequest::Destroy(&frozen);
}

void RequestCorrelator::RunAll(std::vector<Completion>& ready) {
  for (Completion& completion : ready) {
    std::move(completion.done)(std::move(completion.outcome));
  }
  ready.clear();
}

RequestCorrelator::Registration RequestCorrelator::Await(const std::string& request_id, const std::string& device_id,
                                                         Digest digest, WaitMode mode, absl::Time deadline, Done done,
                                                         IdSource source, Tracking tracking) {
  if (request_id.size() > FrozenRequest::kMaxTextBytes) {
    std::move(done)(absl::InvalidArgumentError(
        absl::StrCat("request_id is ", request_id.size(), " bytes; at most ", FrozenRequest::kMaxTextBytes)));
    return Registration{Role::kJoined, 0};
  }
  const absl::Time now = clock_.Now();
  Shard& shard = ShardFor(request_id);
  std::vector<Completion> ready;
  Registration registration;
  {
    absl::MutexLock lock(&shard.mu);
    registration = Join(shard, {request_id, device_id, digest, Normalized(mode), deadline, source, std::move(tracking)},
                        std::move(done), now, ready);
    KeepWithinBudget(shard);
  }
  RunAll(ready);
  return registration;
}

RequestCorrelator::Registration RequestCorrelator::Join(Shard& shard, Asked asked, Done done, absl::Time now,
                                                        std::vector<Completion>& ready) {
  Registration registration{Role::kJoined, shard.next_waiter++};
  Entry* known = FindLive(shard, asked.request_id);
  if (FrozenRequest* frozen = known == nullptr ? FindFrozen(shard, asked.request_id) : nullptr; frozen != nullptr) {
    // A retry that does not repeat the request is refused without thawing
    // it, which would move it among the idle ones.
    absl::Status same = SameRequest(asked, frozen->origin()->device_id, frozen->digest());
    if (!same.ok()) {
      ready.push_back({std::move(done), std::move(same)});
      return registration;
    }
    known = &Thaw(shard, *frozen);
  }
  const bool inserted = known == nullptr;
  if (inserted) {
    known = &Insert(shard, asked, registration.waiter);
    registration.role = Role::kSendNow;
  }
  Entry& entry = *known;
  const bool reached = Reached(entry.outcome.status(), asked.mode);
  absl::Status room = absl::OkStatus();
  // Each branch ends the entry's turn: Touched, Settled or Forget.
  if (absl::Status same = SameRequest(asked, entry.device_id(), entry.digest); !same.ok()) {
    // A live entry, with waiters: Settled leaves it as it is.
    ready.push_back({std::move(done), std::move(same)});
    Settled(shard, entry);
  } else if (entry.orphaned && !reached) {
    // Written on a connection that closed before the device answered: it
    // may have arrived, so it is never sent again; nor will that connection
    // bring the answer.
    ready.push_back({std::move(done), Orphaned(asked.request_id, entry.outcome.status(), entry.closed_how)});
    retries_joined_.fetch_add(1, std::memory_order_relaxed);
    Touched(shard, entry, now);
  } else if (!entry.holds_place && !reached && !(room = TakePlace(asked.device_id)).ok()) {
    // Over a limit: nothing is sent, and a new entry is not kept, so that a
    // retry once there is room sends the request.
    ready.push_back({std::move(done), std::move(room)});
    registration.role = Role::kJoined;
    if (inserted) {
      Forget(shard, entry);
    } else {
      Touched(shard, entry, now);
    }
  } else {
    if (!inserted) retries_joined_.fetch_add(1, std::memory_order_relaxed);
    if (!reached) entry.holds_place = true;
    entry.waiters.push_back({registration.waiter, asked.mode, asked.deadline, std::move(done)});
    shard.deadlines.emplace(std::make_pair(asked.deadline, registration.waiter), &entry);
    Settle(shard, entry, ready);
    Touched(shard, entry, now);
  }
  return registration;
}

RequestCorrelator::Entry& RequestCorrelator::Insert(Shard& shard, Asked& asked, WaiterId sender) {
  auto it = shard.live.try_emplace(asked.request_id).first;
  Entry& entry = it->second;
  entry.request_id = &it->first;
  entry.origin = origins_.Acquire(asked.device_id, asked.tracking.account_id);
  entry.digest = asked.digest;
  entry.source = asked.source;
  entry.watch = asked.tracking.watch;
  entry.sender = sender;
  entry.outcome.set_request_id(asked.request_id);
  remembered_entries_.fetch_add(1, std::memory_order_relaxed);
  Charge(shard, entry);
  return entry;
}

void RequestCorrelator::MarkSent(const std::string& request_id, WaiterId sender, ConnectionId connection) {
  const absl::Time now = clock_.Now();
  Shard& shard = ShardFor(request_id);
  std::vector<Completion> ready;
  std::vector<OutcomeChange> changed;
  {
    absl::MutexLock lock(&shard.mu);
    Entry* known = FindLive(shard, request_id);
    if (FrozenRequest* frozen = known == nullptr ? FindFrozen(shard, request_id) : nullptr; frozen != nullptr) {
      // A stale sender, or a request already written, changes nothing: look
      // before thawing.
      if (frozen->sender() != sender || frozen->connection() != 0) return;
      known = &Thaw(shard, *frozen);
    }
    if (known == nullptr) return;
    Entry& entry = *known;
    if (entry.sender != sender || entry.connection != 0) return;
    entry.connection = connection;
    // A device that answered already (on another connection) has it: a
    // close of this one loses nothing.
    if (!Answered(entry.outcome.status())) shard.by_connection[connection].live.insert(&entry);
    if (entry.outcome.status() == hive::bridge::v1::REQUEST_STATUS_UNSPECIFIED) {
      StampSent(entry.outcome, now);
      entry.outcome.set_status(hive::bridge::v1::REQUEST_STATUS_SENT);
      Note(entry, changed);
    }
    Charge(shard, entry);
    Settle(shard, entry, ready);
    Touched(shard, entry, now);
    KeepWithinBudget(shard);
  }
  Tell(changed);
  RunAll(ready);
}

void RequestCorrelator::Fail(const std::string& request_id, WaiterId sender, const absl::Status& why) {
  Shard& shard = ShardFor(request_id);
  std::vector<Completion> ready;
  {
    absl::MutexLock lock(&shard.mu);
    if (auto it = shard.live.find(request_id); it != shard.live.end()) {
      Entry& entry = it->second;
      if (entry.sender != sender || entry.connection != 0) return;
      ReleaseAll(shard, entry, why, ready);
      Forget(shard, entry);
    } else if (FrozenRequest* frozen = FindFrozen(shard, request_id);
               frozen != nullptr && frozen->sender() == sender && frozen->connection() == 0) {
      // Its waiters all left before it was written; nobody is told.
      Forget(shard, *frozen);
    }
  }
  RunAll(ready);
}

bool RequestCorrelator::Respond(const std::string& device_id, const std::string& request_id,
                                absl::FunctionRef<bool(RequestStatus)> changes,
                                absl::FunctionRef<void(Entry&, absl::Time)> respond) {
  const absl::Time now = clock_.Now();
  Shard& shard = ShardFor(request_id);
  std::vector<Completion> ready;
  std::vector<OutcomeChange> changed;
  {
    absl::MutexLock lock(&shard.mu);
    Entry* known = FindLive(shard, request_id);
    if (FrozenRequest* frozen = known == nullptr ? FindFrozen(shard, request_id) : nullptr; frozen != nullptr) {
      // A response that changes nothing (a repeated ack, a second result)
      // leaves a frozen request frozen.
      if (frozen->origin()->device_id != device_id) return false;
      if (!changes(frozen->status())) return true;
      known = &Thaw(shard, *frozen);
    }
    if (known == nullptr || known->device_id() != device_id) return false;
    Entry& entry = *known;
    if (!changes(entry.outcome.status())) return true;
    respond(entry, now);
    Note(entry, changed);
    // Nothing of it is left for a close to lose.
    if (Answered(entry.outcome.status())) UnbookLive(shard, entry);
    Charge(shard, entry);
    Settle(shard, entry, ready);
    Touched(shard, entry, now);
    KeepWithinBudget(shard);
  }
  Tell(changed);
  RunAll(ready);
  return true;
}

bool RequestCorrelator::OnAck(const std::string& device_id, const std::string& request_id) {
  // A repeated ack, or one after the result, changes nothing.
  return Respond(
      device_id, request_id, [](RequestStatus status) { return !Acked(status); },
      [](Entry& entry, absl::Time now) {
        const absl::Time sent_at = StampSent(entry.outcome, now);
        entry.outcome.set_status(hive::bridge::v1::REQUEST_STATUS_ACKED);
        *entry.outcome.mutable_ack_latency() = ToProto(now - sent_at);
      });
}

bool RequestCorrelator::OnResult(const std::string& device_id, const std::string& request_id, DeviceResult result) {
  // Only the first result counts.
  return Respond(
      device_id, request_id, [](RequestStatus status) { return !Answered(status); },
      [&result](Entry& entry, absl::Time now) {
        SendDeviceRequestResponse& outcome = entry.outcome;
        const google::protobuf::Duration latency = ToProto(now - StampSent(outcome, now));
        // The device acks before it answers, so a result without an ack means
        // the ack was lost or skipped; it is taken to have come with the
        // result.
        if (!Acked(outcome.status())) *outcome.mutable_ack_latency() = latency;
        outcome.set_status(result.succeeded ? hive::bridge::v1::REQUEST_STATUS_SUCCEEDED
                                            : hive::bridge::v1::REQUEST_STATUS_FAILED);
        *outcome.mutable_result_latency() = latency;
        if (result.has_result) *outcome.mutable_result() = std::move(result.result);
        *outcome.mutable_result_exact_numbers() = std::move(result.exact_numbers);
        outcome.set_error(std::move(result.error));
      });
}

void RequestCorrelator::FailAllFor(const std::string& device_id, ConnectionId connection, absl::string_view how) {
  const absl::Time now = clock_.Now();
  std::vector<Completion> ready;
  std::vector<OutcomeChange> changed;
  for (size_t i = 0; i < (size_t{1} << shard_bits_); ++i) {
    Shard& shard = shards_[i];
    {
      absl::MutexLock lock(&shard.mu);
      // The frozen requests nobody watches hear of the close when they are
      // next thawed (Thaw), so a close costs nothing per such request.
      if (auto quiet = shard.quiet.extract(connection); !quiet.empty()) {
        shard.closed[connection] = Closed{std::string(how), quiet.mapped()};
      }
      auto node = shard.by_connection.extract(connection);
      if (node.empty()) continue;
      Written& written = node.mapped();
      std::vector<Entry*> entries(written.live.begin(), written.live.end());
      for (FrozenRequest* frozen : written.watched) entries.push_back(&Unpack(shard, *frozen));
      for (Entry* entry : entries) {
        // Connection ids are never reused, so this is only a safeguard.
        if (entry->device_id() != device_id) {
          Touched(shard, *entry, now);
          continue;
        }
        entry->orphaned = true;
        entry->closed_how = std::string(how);
        // Every waiter still waiting waits for something only the closed
        // connection could have brought (an unacked request's ack, an acked
        // one's result). A new connection may still bring it; until then a
        // retry is told the same.
        const absl::Status why = Orphaned(*entry->request_id, entry->outcome.status(), how);
        Note(*entry, changed);
        ReleaseAll(shard, *entry, why, ready);
        Charge(shard, *entry);
        Touched(shard, *entry, now);
      }
      KeepWithinBudget(shard);
    }
    Tell(changed);
    RunAll(ready);
  }
}

void RequestCorrelator::FailAll(const absl::Status& why) {
  std::vector<Completion> ready;
  for (size_t i = 0; i < (size_t{1} << shard_bits_); ++i) {
    Shard& shard = shards_[i];
    {
      absl::MutexLock lock(&shard.mu);
      for (auto& [request_id, entry] : shard.live) {
        ReleaseAll(shard, entry, why, ready);
        origins_.Release(entry.origin);
      }
      for (FrozenRequest* frozen : shard.frozen) {
        origins_.Release(frozen->origin());
        FrozenRequest::Destroy(frozen);
      }
      remembered_entries_.fetch_sub(shard.entries(), std::memory_order_relaxed);
      remembered_bytes_.fetch_sub(shard.bytes, std::memory_order_relaxed);
      shard.live.clear();
      shard.frozen.clear();
      shard.by_connection.clear();
      shard.quiet.clear();
      shard.closed.clear();
      shard.deadlines.clear();
      shard.idle_head = shard.idle_tail = nullptr;
      shard.bytes = 0;
    }
    RunAll(ready);
  }
}

void RequestCorrelator::Cancel(const std::string& request_id, WaiterId waiter) {
  const absl::Time now = clock_.Now();
  Shard& shard = ShardFor(request_id);
  std::vector<Completion> ready;
  {
    absl::MutexLock lock(&shard.mu);
    // A frozen request has no waiters left to cancel.
    auto it = shard.live.find(request_id);
    if (it == shard.live.end()) return;
    Release(
        shard, it->second, [waiter](const Waiter& w) { return w.id == waiter; },
        [](const Waiter&) { return absl::CancelledError("request cancelled by caller"); }, ready);
    if (!ready.empty()) Touched(shard, it->second, now);
    KeepWithinBudget(shard);
  }
  RunAll(ready);
}

void RequestCorrelator::ExpireDue() {
  const absl::Time now = clock_.Now();
  std::vector<Completion> ready;
  for (size_t i = 0; i < (size_t{1} << shard_bits_); ++i) {
    Shard& shard = shards_[i];
    {
      absl::MutexLock lock(&shard.mu);
      while (!shard.deadlines.empty() && shard.deadlines.begin()->first.first <= now) {
        const std::pair<absl::Time, WaiterId> due = shard.deadlines.begin()->first;
        Entry& entry = *shard.deadlines.begin()->second;
        Release(
            shard, entry, [&due](const Waiter& w) { return w.id == due.second; },
            [](const Waiter& w) { return DeadlineExceeded(w.mode); }, ready);
        shard.deadlines.erase(due);  // Release did, unless the waiter was gone: never loop on it
        // An entry whose waiters all timed out stays: the request was sent
        // and a late answer must still reach a retry.
        Touched(shard, entry, now);
      }
      // The idle list is in the order of last touch, so the expired ones are
      // at its front.
      while (shard.idle_head != nullptr && now - shard.idle_head->touched() >= options_.dedupe_window) {
        FrozenRequest& frozen = *shard.idle_head;
        if (PendingClose(shard, frozen) != nullptr) {
          // Its connection closed while it was frozen, which is news it has
          // not heard yet: it is remembered for a window from now (Thaw
          // applies the close, so the next pass forgets it).
          Touched(shard, Thaw(shard, frozen), now);
          continue;
        }
        forgotten_window_.fetch_add(1, std::memory_order_relaxed);
        Forget(shard, frozen);
      }
    }
    RunAll(ready);
  }
}

RequestCorrelator::Memory RequestCorrelator::remembered() const {
  Memory memory;
  memory.entries = remembered_entries_.load(std::memory_order_relaxed);
  memory.bytes = remembered_bytes_.load(std::memory_order_relaxed);
  memory.forgotten_budget = forgotten_budget_.load(std::memory_order_relaxed);
  memory.forgotten_window = forgotten_window_.load(std::memory_order_relaxed);
  memory.retries_joined = retries_joined_.load(std::memory_order_relaxed);
  return memory;
}

}  // namespace hive

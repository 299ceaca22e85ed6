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
  changed.push_back({*entry.request_id, entry.device_id, entry.account_id, entry.watch, entry.outcome, entry.orphaned,
                     entry.closed_how});
}

void RequestCorrelator::Tell(std::vector<OutcomeChange>& changed) {
  for (OutcomeChange& change : changed) observer_->OnOutcome(std::move(change));
  changed.clear();
}

std::optional<RequestCorrelator::Known> RequestCorrelator::Find(const std::string& request_id) const {
  Shard& shard = ShardFor(request_id);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.entries.find(request_id);
  if (it == shard.entries.end()) return std::nullopt;
  const Entry& entry = it->second;
  return Known{entry.device_id, entry.account_id, entry.outcome, entry.orphaned, entry.closed_how};
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
    GiveBackPlace(entry.device_id);
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

void RequestCorrelator::Charge(Shard& shard, Entry& entry) {
  const SendDeviceRequestResponse& outcome = entry.outcome;
  // A result is charged as it lies in memory; walking it costs a little, so
  // only an outcome that has one pays (once per change, not per request).
  const size_t result_bytes =
      (outcome.has_result() ? outcome.result().SpaceUsedLong() : 0) +
      (outcome.result_exact_numbers().empty() ? 0 : outcome.result_exact_numbers().SpaceUsedExcludingSelfLong());
  const size_t bytes = kEntryOverheadBytes + entry.request_id->size() + entry.device_id.size() +
                       entry.account_id.size() + entry.closed_how.size() + outcome.ByteSizeLong() + result_bytes;
  shard.bytes += bytes - entry.bytes;
  if (bytes >= entry.bytes) {
    remembered_bytes_.fetch_add(bytes - entry.bytes, std::memory_order_relaxed);
  } else {
    remembered_bytes_.fetch_sub(entry.bytes - bytes, std::memory_order_relaxed);
  }
  entry.bytes = bytes;
}

void RequestCorrelator::Unlink(Shard& shard, Entry& entry) {
  if (!entry.idle) return;
  (entry.idle_prev == nullptr ? shard.idle_head : entry.idle_prev->idle_next) = entry.idle_next;
  (entry.idle_next == nullptr ? shard.idle_tail : entry.idle_next->idle_prev) = entry.idle_prev;
  entry.idle_prev = entry.idle_next = nullptr;
  entry.idle = false;
}

void RequestCorrelator::Touched(Shard& shard, Entry& entry, absl::Time now) {
  entry.touched = now;
  Unlink(shard, entry);
  if (!entry.waiters.empty()) return;
  // Nobody can retry a request id the bridge made up: once the result is in,
  // there is nothing left to match. Before, a late ack or result still must
  // find it (else it counts as a bad frame).
  if (entry.source == IdSource::kBridge && Answered(entry.outcome.status())) {
    Forget(shard, entry);
    return;
  }
  entry.idle = true;
  entry.idle_prev = shard.idle_tail;
  (shard.idle_tail == nullptr ? shard.idle_head : shard.idle_tail->idle_next) = &entry;
  shard.idle_tail = &entry;
}

void RequestCorrelator::KeepWithinBudget(Shard& shard) {
  while (shard.idle_head != nullptr && ((shard_max_entries_ > 0 && shard.entries.size() > shard_max_entries_) ||
                                        (shard_max_bytes_ > 0 && shard.bytes > shard_max_bytes_))) {
    forgotten_budget_.fetch_add(1, std::memory_order_relaxed);
    Forget(shard, *shard.idle_head);
  }
}

void RequestCorrelator::Forget(Shard& shard, Entry& entry) {
  Unlink(shard, entry);
  for (const Waiter& waiter : entry.waiters) shard.deadlines.erase({waiter.deadline, waiter.id});
  if (entry.holds_place) GiveBackPlace(entry.device_id);
  if (entry.connection != 0) {
    if (auto it = shard.by_connection.find(entry.connection); it != shard.by_connection.end()) {
      it->second.erase(&entry);
      if (it->second.empty()) shard.by_connection.erase(it);
    }
  }
  shard.bytes -= entry.bytes;
  remembered_bytes_.fetch_sub(entry.bytes, std::memory_order_relaxed);
  remembered_entries_.fetch_sub(1, std::memory_order_relaxed);
  shard.entries.erase(shard.entries.find(*entry.request_id));
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
  const absl::Time now = clock_.Now();
  mode = Normalized(mode);
  Shard& shard = ShardFor(request_id);
  std::vector<Completion> ready;
  Registration registration;
  {
    absl::MutexLock lock(&shard.mu);
    registration.waiter = shard.next_waiter++;
    auto [it, inserted] = shard.entries.try_emplace(request_id);
    Entry& entry = it->second;
    registration.role = inserted ? Role::kSendNow : Role::kJoined;
    if (inserted) {
      entry.request_id = &it->first;
      entry.device_id = device_id;
      entry.account_id = std::move(tracking.account_id);
      entry.digest = digest;
      entry.source = source;
      entry.watch = tracking.watch;
      entry.sender = registration.waiter;
      entry.outcome.set_request_id(request_id);
      remembered_entries_.fetch_add(1, std::memory_order_relaxed);
      Charge(shard, entry);
    }
    const bool reached = Reached(entry.outcome.status(), mode);
    absl::Status room = absl::OkStatus();
    if (entry.device_id != device_id) {
      ready.push_back({std::move(done), absl::InvalidArgumentError(absl::StrCat("request_id ", request_id,
                                                                                " already used for another device"))});
    } else if (entry.digest != digest) {
      ready.push_back({std::move(done), absl::InvalidArgumentError(absl::StrCat(
                                            "request_id ", request_id,
                                            " already used for a different request (another command or state); a "
                                            "retry must repeat the request exactly, a new request needs a new "
                                            "request_id"))});
    } else if (entry.orphaned && !reached) {
      // Written on a connection that closed before the device answered: it
      // may have arrived, so it is never sent again; nor will that
      // connection bring the answer.
      ready.push_back({std::move(done), Orphaned(request_id, entry.outcome.status(), entry.closed_how)});
      Touched(shard, entry, now);
      retries_joined_.fetch_add(1, std::memory_order_relaxed);
    } else if (!entry.holds_place && !reached && !(room = TakePlace(device_id)).ok()) {
      // Over a limit: nothing is sent, and a new entry is not kept, so that
      // a retry once there is room sends the request.
      ready.push_back({std::move(done), std::move(room)});
      registration.role = Role::kJoined;
      if (inserted) Forget(shard, entry);
    } else {
      if (!inserted) retries_joined_.fetch_add(1, std::memory_order_relaxed);
      if (!reached) entry.holds_place = true;
      entry.waiters.push_back({registration.waiter, mode, deadline, std::move(done)});
      shard.deadlines.emplace(std::make_pair(deadline, registration.waiter), &entry);
      Settle(shard, entry, ready);
      Touched(shard, entry, now);
    }
    KeepWithinBudget(shard);
  }
  RunAll(ready);
  return registration;
}

void RequestCorrelator::MarkSent(const std::string& request_id, WaiterId sender, ConnectionId connection) {
  const absl::Time now = clock_.Now();
  Shard& shard = ShardFor(request_id);
  std::vector<Completion> ready;
  std::vector<OutcomeChange> changed;
  {
    absl::MutexLock lock(&shard.mu);
    auto it = shard.entries.find(request_id);
    if (it == shard.entries.end()) return;
    Entry& entry = it->second;
    if (entry.sender != sender || entry.connection != 0) return;
    entry.connection = connection;
    // A device that answered already (on another connection) has it: a
    // close of this one loses nothing.
    if (!Answered(entry.outcome.status())) shard.by_connection[connection].insert(&entry);
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
    auto it = shard.entries.find(request_id);
    if (it == shard.entries.end() || it->second.sender != sender || it->second.connection != 0) return;
    ReleaseAll(shard, it->second, why, ready);
    Forget(shard, it->second);
  }
  RunAll(ready);
}

bool RequestCorrelator::Respond(const std::string& device_id, const std::string& request_id,
                                absl::FunctionRef<bool(Entry&, absl::Time)> respond) {
  const absl::Time now = clock_.Now();
  Shard& shard = ShardFor(request_id);
  std::vector<Completion> ready;
  std::vector<OutcomeChange> changed;
  {
    absl::MutexLock lock(&shard.mu);
    auto it = shard.entries.find(request_id);
    if (it == shard.entries.end() || it->second.device_id != device_id) return false;
    Entry& entry = it->second;
    if (respond(entry, now)) {
      Note(entry, changed);
      if (Answered(entry.outcome.status()) && entry.connection != 0) {
        // Nothing of it is left for a close to lose.
        if (auto c = shard.by_connection.find(entry.connection); c != shard.by_connection.end()) {
          c->second.erase(&entry);
          if (c->second.empty()) shard.by_connection.erase(c);
        }
      }
      Charge(shard, entry);
      Settle(shard, entry, ready);
      Touched(shard, entry, now);
      KeepWithinBudget(shard);
    }
  }
  Tell(changed);
  RunAll(ready);
  return true;
}

bool RequestCorrelator::OnAck(const std::string& device_id, const std::string& request_id) {
  return Respond(device_id, request_id, [](Entry& entry, absl::Time now) {
    // A repeated ack, or one after the result, changes nothing.
    if (Acked(entry.outcome.status())) return false;
    const absl::Time sent_at = StampSent(entry.outcome, now);
    entry.outcome.set_status(hive::bridge::v1::REQUEST_STATUS_ACKED);
    *entry.outcome.mutable_ack_latency() = ToProto(now - sent_at);
    return true;
  });
}

bool RequestCorrelator::OnResult(const std::string& device_id, const std::string& request_id, DeviceResult result) {
  return Respond(device_id, request_id, [&result](Entry& entry, absl::Time now) {
    if (Answered(entry.outcome.status())) return false;
    SendDeviceRequestResponse& outcome = entry.outcome;
    const google::protobuf::Duration latency = ToProto(now - StampSent(outcome, now));
    // The device acks before it answers, so a result without an ack means the
    // ack was lost or skipped; it is taken to have come with the result.
    if (!Acked(outcome.status())) *outcome.mutable_ack_latency() = latency;
    outcome.set_status(result.succeeded ? hive::bridge::v1::REQUEST_STATUS_SUCCEEDED
                                        : hive::bridge::v1::REQUEST_STATUS_FAILED);
    *outcome.mutable_result_latency() = latency;
    if (result.has_result) *outcome.mutable_result() = std::move(result.result);
    *outcome.mutable_result_exact_numbers() = std::move(result.exact_numbers);
    outcome.set_error(std::move(result.error));
    return true;
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
      auto node = shard.by_connection.extract(connection);
      if (node.empty()) continue;
      for (Entry* entry : node.mapped()) {
        if (entry->device_id != device_id) continue;
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
      for (auto& [request_id, entry] : shard.entries) {
        ReleaseAll(shard, entry, why, ready);
      }
      remembered_entries_.fetch_sub(shard.entries.size(), std::memory_order_relaxed);
      remembered_bytes_.fetch_sub(shard.bytes, std::memory_order_relaxed);
      shard.entries.clear();
      shard.by_connection.clear();
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
    auto it = shard.entries.find(request_id);
    if (it == shard.entries.end()) return;
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
      while (shard.idle_head != nullptr && now - shard.idle_head->touched >= options_.dedupe_window) {
        forgotten_window_.fetch_add(1, std::memory_order_relaxed);
        Forget(shard, *shard.idle_head);
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

// bridge/request_correlator.cc
#include "bridge/request_correlator.h"

#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

namespace hive {
namespace {

// Entries are forgotten at most this long after their dedupe window ends.
constexpr absl::Duration kLongestSweepInterval = absl::Seconds(1);

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

}  // namespace

RequestCorrelator::RequestCorrelator(const Clock& clock, Options options) : clock_(clock), options_(options) {}

RequestCorrelator::~RequestCorrelator() { FailAll(absl::UnavailableError("request correlator shut down")); }

RequestCorrelator::Shard& RequestCorrelator::ShardFor(const std::string& request_id) {
  // The top bits pick the shard: the map inside a shard keys its control
  // bytes on the low bits of the same hash, which must stay varied.
  const size_t hash = absl::Hash<std::string>{}(request_id);
  return shards_[hash >> (sizeof(size_t) * 8 - kShardBits)];
}

RequestCorrelator::DeviceShard& RequestCorrelator::DeviceShardFor(const std::string& device_id) {
  const size_t hash = absl::Hash<std::string>{}(device_id);
  return device_shards_[hash >> (sizeof(size_t) * 8 - kShardBits)];
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
void RequestCorrelator::Release(Entry& entry, absl::Time now, Leaves leaves, OutcomeFor outcome_for,
                                std::vector<Completion>& ready) {
  auto stays = entry.waiters.begin();
  for (auto it = entry.waiters.begin(); it != entry.waiters.end(); ++it) {
    if (leaves(*it)) {
      ready.push_back({std::move(it->done), outcome_for(*it)});
    } else {
      if (stays != it) *stays = std::move(*it);
      ++stays;
    }
  }
  if (stays != entry.waiters.end()) {
    entry.waiters.erase(stays, entry.waiters.end());
    entry.touched = now;
  }
  if (entry.waiters.empty() && entry.holds_place) {
    entry.holds_place = false;
    GiveBackPlace(entry.device_id);
  }
}

void RequestCorrelator::Settle(Entry& entry, absl::Time now, std::vector<Completion>& ready) {
  const RequestStatus status = entry.outcome.status();
  Release(
      entry, now, [status](const Waiter& w) { return Reached(status, w.mode); },
      [&entry](const Waiter&) { return entry.outcome; }, ready);
}

void RequestCorrelator::ReleaseAll(Entry& entry, absl::Time now, const absl::Status& why,
                                   std::vector<Completion>& ready) {
  Release(
      entry, now, [](const Waiter&) { return true; }, [&why](const Waiter&) { return why; }, ready);
}

void RequestCorrelator::Forget(Shard& shard, EntryMap::iterator it) {
  if (it->second.holds_place) GiveBackPlace(it->second.device_id);
  auto device = shard.by_device.find(it->second.device_id);
  device->second.erase(it->first);
  if (device->second.empty()) shard.by_device.erase(device);
  shard.entries.erase(it);
}

void RequestCorrelator::RunAll(std::vector<Completion>& ready) {
  for (Completion& completion : ready) {
    std::move(completion.done)(std::move(completion.outcome));
  }
  ready.clear();
}

RequestCorrelator::Registration RequestCorrelator::Await(const std::string& request_id, const std::string& device_id,
                                                         WaitMode mode, absl::Time deadline, Done done) {
  const absl::Time now = clock_.Now();
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
      entry.device_id = device_id;
      entry.sender = registration.waiter;
      entry.outcome.set_request_id(request_id);
      shard.by_device[device_id].insert(request_id);
    }
    absl::Status room = absl::OkStatus();
    if (entry.device_id != device_id) {
      ready.push_back({std::move(done), absl::InvalidArgumentError(absl::StrCat("request_id ", request_id,
                                                                                " already used for another device"))});
    } else if (!entry.holds_place && !Reached(entry.outcome.status(), Normalized(mode)) &&
               !(room = TakePlace(device_id)).ok()) {
      // Over a limit: nothing is sent, and a new entry is not kept, so that
      // a retry once there is room sends the request.
      ready.push_back({std::move(done), std::move(room)});
      registration.role = Role::kJoined;
      if (inserted) Forget(shard, it);
    } else {
      if (!Reached(entry.outcome.status(), Normalized(mode))) entry.holds_place = true;
      entry.waiters.push_back({registration.waiter, Normalized(mode), deadline, std::move(done)});
      shard.next_deadline = std::min(shard.next_deadline, deadline);
      entry.touched = now;
      Settle(entry, now, ready);
    }
  }
  RunAll(ready);
  return registration;
}

void RequestCorrelator::MarkSent(const std::string& request_id, WaiterId sender) {
  const absl::Time now = clock_.Now();
  Shard& shard = ShardFor(request_id);
  std::vector<Completion> ready;
  {
    absl::MutexLock lock(&shard.mu);
    auto it = shard.entries.find(request_id);
    if (it == shard.entries.end()) return;
    Entry& entry = it->second;
    if (entry.sender != sender || entry.outcome.status() != hive::bridge::v1::REQUEST_STATUS_UNSPECIFIED) {
      return;
    }
    StampSent(entry.outcome, now);
    entry.outcome.set_status(hive::bridge::v1::REQUEST_STATUS_SENT);
    entry.touched = now;
    Settle(entry, now, ready);
  }
  RunAll(ready);
}

void RequestCorrelator::Fail(const std::string& request_id, WaiterId sender, const absl::Status& why) {
  const absl::Time now = clock_.Now();
  Shard& shard = ShardFor(request_id);
  std::vector<Completion> ready;
  {
    absl::MutexLock lock(&shard.mu);
    auto it = shard.entries.find(request_id);
    if (it == shard.entries.end() || it->second.sender != sender) return;
    ReleaseAll(it->second, now, why, ready);
    Forget(shard, it);
  }
  RunAll(ready);
}

bool RequestCorrelator::Respond(const std::string& device_id, const std::string& request_id,
                                absl::FunctionRef<bool(Entry&, absl::Time)> respond) {
  const absl::Time now = clock_.Now();
  Shard& shard = ShardFor(request_id);
  std::vector<Completion> ready;
  {
    absl::MutexLock lock(&shard.mu);
    auto it = shard.entries.find(request_id);
    if (it == shard.entries.end() || it->second.device_id != device_id) return false;
    Entry& entry = it->second;
    if (respond(entry, now)) {
      entry.touched = now;
      Settle(entry, now, ready);
    }
  }
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

void RequestCorrelator::FailAllFor(const std::string& device_id, const absl::Status& why) {
  const absl::Time now = clock_.Now();
  std::vector<Completion> ready;
  for (Shard& shard : shards_) {
    {
      absl::MutexLock lock(&shard.mu);
      auto device = shard.by_device.find(device_id);
      if (device == shard.by_device.end()) continue;
      // Copied because Forget edits the set being walked.
      const std::vector<std::string> request_ids(device->second.begin(), device->second.end());
      for (const std::string& request_id : request_ids) {
        auto it = shard.entries.find(request_id);
        // Every waiter left on an acked entry awaits the result, which the
        // device can no longer send on this connection.
        ReleaseAll(it->second, now, why, ready);
        // The device may never have seen an unacked request: remembering it
        // would stop a retry from sending it again.
        if (!Acked(it->second.outcome.status())) Forget(shard, it);
      }
    }
    RunAll(ready);
  }
}

void RequestCorrelator::FailAll(const absl::Status& why) {
  const absl::Time now = clock_.Now();
  std::vector<Completion> ready;
  for (Shard& shard : shards_) {
    {
      absl::MutexLock lock(&shard.mu);
      for (auto& [request_id, entry] : shard.entries) {
        ReleaseAll(entry, now, why, ready);
      }
      shard.entries.clear();
      shard.by_device.clear();
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
        it->second, now, [waiter](const Waiter& w) { return w.id == waiter; },
        [](const Waiter&) { return absl::CancelledError("request cancelled by caller"); }, ready);
  }
  RunAll(ready);
}

void RequestCorrelator::ExpireDue() {
  const absl::Time now = clock_.Now();
  std::vector<Completion> ready;
  for (Shard& shard : shards_) {
    {
      absl::MutexLock lock(&shard.mu);
      // The walk is over every remembered request (the dedupe window holds
      // minutes of them), so it runs only when a deadline may be due, or to
      // forget, a few times per dedupe window: ExpireDue runs every few
      // milliseconds, and walking each time was the busiest code under load.
      const bool deadline_due = now >= shard.next_deadline;
      const bool sweep_due = now >= shard.next_sweep;
      if (!deadline_due && !sweep_due) continue;
      if (sweep_due) shard.next_sweep = now + std::min(options_.dedupe_window / 10, kLongestSweepInterval);
      shard.next_deadline = absl::InfiniteFuture();
      for (auto it = shard.entries.begin(); it != shard.entries.end();) {
        Entry& entry = it->second;
        Release(
            entry, now, [now](const Waiter& w) { return w.deadline <= now; },
            [](const Waiter& w) { return DeadlineExceeded(w.mode); }, ready);
        for (const Waiter& waiter : entry.waiters) shard.next_deadline = std::min(shard.next_deadline, waiter.deadline);
        // An entry whose waiters all timed out stays: the request was sent
        // and a late answer must still reach a retry.
        if (entry.waiters.empty() && now - entry.touched >= options_.dedupe_window) {
          Forget(shard, it++);
        } else {
          ++it;
        }
      }
    }
    RunAll(ready);
  }
}

size_t RequestCorrelator::pending() const {
  size_t count = 0;
  for (const Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    for (const auto& [request_id, entry] : shard.entries) {
      if (!entry.waiters.empty()) ++count;
    }
  }
  return count;
}

}  // namespace hive

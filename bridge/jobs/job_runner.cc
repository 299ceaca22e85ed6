#include "bridge/jobs/job_runner.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/jobs/job_request_id.h"
#include "bridge/log.h"
#include "bridge/proto_time.h"
#include "google/protobuf/util/time_util.h"

namespace hive {
namespace {

using google::protobuf::util::TimeUtil;
using hive::bridge::v1::JOB_STATE_ABORTED;
using hive::bridge::v1::JOB_STATE_CANCELLED;
using hive::bridge::v1::JOB_STATE_COMPLETED;
using hive::bridge::v1::JOB_STATE_PAUSED;
using hive::bridge::v1::JOB_STATE_RUNNING;
using hive::bridge::v1::RequestRecord;
using hive::bridge::v1::SendDeviceRequestRequest;

constexpr int kDefaultMaxInFlight = 100;
constexpr size_t kDefaultAbortWindow = 20;

google::protobuf::Timestamp TimestampOf(absl::Time time) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(time));
}

// Up to a tenth of a second's sends at once, so a tick of kTick keeps the
// rate without letting a burst past it.
double BurstOf(double rate) { return std::max(1.0, rate / 10); }

}  // namespace

absl::StatusOr<std::unique_ptr<JobRunner>> JobRunner::Make(Deps deps, JobStore::Unfinished loaded) {
  const hive::bridge::v1::JobRollout& rollout = loaded.job.spec().rollout();
  if (!(rollout.max_rate() > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("rollout.max_rate: ", rollout.max_rate(), " must be above 0"));
  }
  // The waves are shares of the selection at the start; devices that
  // joined since (include_joining) are at its end, in the last wave.
  const size_t joined =
      std::min(static_cast<size_t>(std::max<int64_t>(loaded.job.counters().joined(), 0)), loaded.members.size());
  absl::StatusOr<WavePlan> plan = WavePlan::Make(rollout.waves(), loaded.members.size() - joined);
  if (!plan.ok()) return plan.status();
  plan->Grow(loaded.members.size());
  // The spec apart, so that the changes, which carry the job, do not copy it
  // (job_status.h); its explicit device list is the selection, in `members`.
  hive::bridge::v1::StartJobRequest spec = std::move(*loaded.job.mutable_spec());
  loaded.job.clear_spec();
  if (spec.target().has_devices()) spec.mutable_target()->mutable_devices()->clear_device_ids();
  std::unique_ptr<JobRunner> runner(new JobRunner(std::move(deps), std::move(loaded.job), std::move(spec),
                                                  *std::move(plan), loaded.next_index, loaded.last_sequence));
  for (size_t i = 0; i < loaded.members.size(); ++i) {
    JobStore::Member& stored = loaded.members[i];
    Member member{std::move(stored.device_id), "", Bucket::kPending};
    member.request_id = JobRequestId(runner->job_.job_id(), member.device_id);
    // Stored statuses are outcomes (settled); a device sent and not settled
    // is in flight until Reconcile reads it back.
    if (stored.status != hive::bridge::v1::REQUEST_STATUS_UNSPECIFIED) {
      member.bucket = runner->BucketOf(stored.status);
    } else if (i < runner->next_index_) {
      member.bucket = Bucket::kInFlight;
    }
    runner->by_request_.emplace(member.request_id, i);
    runner->members_.push_back(std::move(member));
  }
  // Counters from the buckets: the stored ones may trail the last outcomes.
  hive::bridge::v1::JobCounters& counters = *runner->job_.mutable_counters();
  counters.Clear();
  counters.set_selected(static_cast<int64_t>(runner->members_.size()));
  counters.set_joined(static_cast<int64_t>(joined));
  for (const Member& member : runner->members_) runner->Count(member.bucket, +1);
  if (const hive::bridge::v1::JobRollout& moved = runner->spec_.rollout(); moved.has_abort()) {
    const int window = moved.abort().window();
    runner->window_.emplace(window > 0 ? static_cast<size_t>(window) : kDefaultAbortWindow,
                            moved.abort().max_failure_ratio());
  }
  return runner;
}

JobRunner::JobRunner(Deps deps, Job job, hive::bridge::v1::StartJobRequest spec, WavePlan plan, size_t next_index,
                     uint64_t last_sequence)
    : deps_(std::move(deps)),
      job_(std::move(job)),
      spec_(std::move(spec)),
      plan_(std::move(plan)),
      next_index_(next_index),
      sequence_(last_sequence),
      pace_(spec_.rollout().max_rate(), BurstOf(spec_.rollout().max_rate()), deps_.clock.Now()) {}

int JobRunner::Rank(Bucket bucket) {
  switch (bucket) {
    case Bucket::kPending:
      return 0;
    case Bucket::kQueued:
      return 1;
    case Bucket::kInFlight:
      return 2;
    default:
      return 3;
  }
}

JobRunner::Bucket JobRunner::BucketOf(RequestStatus status) const {
  const hive::bridge::v1::WaitMode wait = spec_.wait();
  switch (status) {
    case hive::bridge::v1::REQUEST_STATUS_QUEUED:
      return Bucket::kQueued;
    case hive::bridge::v1::REQUEST_STATUS_SENT:
      return wait == hive::bridge::v1::WAIT_MODE_NONE ? Bucket::kSucceeded : Bucket::kInFlight;
    case hive::bridge::v1::REQUEST_STATUS_ACKED:
      return wait == hive::bridge::v1::WAIT_MODE_RESULT ? Bucket::kInFlight : Bucket::kSucceeded;
    case hive::bridge::v1::REQUEST_STATUS_SUCCEEDED:
      return Bucket::kSucceeded;
    case hive::bridge::v1::REQUEST_STATUS_FAILED:
    case hive::bridge::v1::REQUEST_STATUS_UNCONFIRMED:
      return Bucket::kFailed;
    case hive::bridge::v1::REQUEST_STATUS_EXPIRED:
      return Bucket::kExpired;
    case hive::bridge::v1::REQUEST_STATUS_CANCELLED:
      return Bucket::kSkipped;
    default:
      return Bucket::kPending;
  }
}

void JobRunner::Count(Bucket bucket, int64_t delta) {
  hive::bridge::v1::JobCounters& counters = *job_.mutable_counters();
  switch (bucket) {
    case Bucket::kPending:
      return counters.set_pending(counters.pending() + delta);
    case Bucket::kQueued:
      return counters.set_queued(counters.queued() + delta);
    case Bucket::kInFlight:
      return counters.set_in_flight(counters.in_flight() + delta);
    case Bucket::kSucceeded:
      return counters.set_succeeded(counters.succeeded() + delta);
    case Bucket::kFailed:
      return counters.set_failed(counters.failed() + delta);
    case Bucket::kExpired:
      return counters.set_expired(counters.expired() + delta);
    case Bucket::kSkipped:
      return counters.set_skipped(counters.skipped() + delta);
  }
}

bool JobRunner::Move(size_t index, Bucket bucket) {
  Member& member = members_[index];
  if (Rank(bucket) <= Rank(member.bucket)) return false;
  Count(member.bucket, -1);
  Count(bucket, +1);
  member.bucket = bucket;
  return true;
}

SendDeviceRequestRequest JobRunner::RequestFor(const Member& member) const {
  const hive::bridge::v1::StartJobRequest& spec = spec_;
  SendDeviceRequestRequest request;
  request.set_device_id(member.device_id);
  request.set_request_id(member.request_id);
  *request.mutable_command() = spec.command();
  if (spec.has_state()) *request.mutable_state() = spec.state();
  request.set_wait(spec.wait());
  *request.mutable_queue_ttl() = spec.queue_ttl();
  request.set_outcome_events(true);
  if (!job_.account_id().empty()) request.set_account_id(job_.account_id());
  return request;
}

bool JobRunner::Send(size_t index) {
  const Member& member = members_[index];
  absl::StatusOr<JobSender::Sent> sent = deps_.sender.Send(RequestFor(member), DurationOf(spec_.queue_ttl()));
  if (!sent.ok()) {
    const absl::StatusCode code = sent.status().code();
    if (code == absl::StatusCode::kResourceExhausted || code == absl::StatusCode::kUnavailable) return false;
    // The device cannot take it (e.g. its request id was used otherwise):
    // its outcome, counted by the abort rule.
    Move(index, Bucket::kFailed);
    Settled(index, hive::bridge::v1::REQUEST_STATUS_FAILED, std::string(sent.status().message()));
    return true;
  }
  // A connected device's request is on its way: in flight (the in-flight
  // bound holds it) even while its record still says QUEUED.
  Move(index, sent->delivering ? Bucket::kInFlight : Bucket::kQueued);
  OnOutcome(member.request_id, sent->record.status(), sent->record.error(), sent->record.account_id());
  return true;
}

absl::Status JobRunner::Reconcile() {
  for (size_t i = 0; i < std::min(next_index_, members_.size()); ++i) {
    Member& member = members_[i];
    if (Rank(member.bucket) == 3) continue;
    absl::StatusOr<std::optional<RequestRecord>> record = deps_.sender.Get(member.request_id);
    if (!record.ok()) return record.status();
    if (record->has_value()) {
      OnOutcome(member.request_id, (*record)->status(), (*record)->error(), (*record)->account_id());
    } else if (deps_.resend_unknown) {
      // Not in this view yet: the queue's log answers a second QUEUED of the
      // same id with the first, so this sends nothing twice.
      (void)Send(i);
    } else if (Move(i, Bucket::kFailed)) {
      // Sent (the cursor passed it after the send returned) and forgotten
      // since (--request-retention): never sent again.
      Settled(i, hive::bridge::v1::REQUEST_STATUS_UNCONFIRMED, "its request's record is gone (--request-retention)");
    }
  }
  EndIfDone();
  return absl::OkStatus();
}

absl::Time JobRunner::Tick() {
  if (ended()) return absl::InfiniteFuture();
  const absl::Time now = deps_.clock.Now();
  if (job_.state() == JOB_STATE_PAUSED) {
    if (now < pause_until_) return pause_until_;
    job_.set_wave(job_.wave() + 1);
    job_.set_state(JOB_STATE_RUNNING);
    RecordJobChange();
  }
  if (job_.state() != JOB_STATE_RUNNING) {
    EndIfDone();
    return now + kTick;
  }
  const size_t wave_end = plan_.end_of(static_cast<size_t>(job_.wave()));
  const int configured = spec_.rollout().max_in_flight();
  const int64_t max_in_flight = configured > 0 ? configured : kDefaultMaxInFlight;
  const size_t sent_before = next_index_;
  while (next_index_ < wave_end && job_.counters().in_flight() < max_in_flight && job_.state() == JOB_STATE_RUNNING &&
         pace_.TryTake(now)) {
    if (!Send(next_index_)) break;
    ++next_index_;
  }
  if (next_index_ != sent_before) Save();
  if (job_.state() == JOB_STATE_RUNNING && next_index_ == wave_end && job_.counters().in_flight() == 0) {
    const auto wave = static_cast<size_t>(job_.wave());
    if (wave + 1 < plan_.waves()) {
      pause_until_ = now + DurationOf(spec_.rollout().waves(static_cast<int>(wave)).pause_after());
      job_.set_state(JOB_STATE_PAUSED);
      RecordJobChange();
      return pause_until_;
    }
  }
  EndIfDone();
  return ended() ? absl::InfiniteFuture() : now + kTick;
}

bool JobRunner::OnOutcome(const std::string& request_id, RequestStatus status, const std::string& error,
                          const std::string& account_id) {
  const auto it = by_request_.find(request_id);
  if (it == by_request_.end()) return false;
  const size_t index = it->second;
  const Bucket bucket = BucketOf(status);
  if (!Move(index, bucket)) return true;
  if (Rank(bucket) == 3) Settled(index, status, error, account_id);
  EndIfDone();
  return true;
}

void JobRunner::Settled(size_t index, RequestStatus status, const std::string& error, const std::string& account_id) {
  const Member& member = members_[index];
  WatchJobResponse change;
  change.set_sequence(++sequence_);
  hive::bridge::v1::JobDeviceOutcome& outcome = *change.mutable_outcome();
  outcome.set_device_id(member.device_id);
  outcome.set_request_id(member.request_id);
  outcome.set_status(status);
  outcome.set_error(error);
  outcome.set_wave(static_cast<int32_t>(plan_.wave_of(index)));
  outcome.set_account_id(account_id.empty() ? job_.account_id() : account_id);
  *outcome.mutable_at() = TimestampOf(deps_.clock.Now());
  const bool running = job_.state() == JOB_STATE_RUNNING || job_.state() == JOB_STATE_PAUSED;
  if (window_.has_value() && running && (member.bucket == Bucket::kSucceeded || member.bucket == Bucket::kFailed)) {
    window_->Record(member.bucket == Bucket::kFailed);
  }
  *change.mutable_job() = job_;
  if (absl::Status stored = deps_.journal.Record(job_, index, status, change); !stored.ok()) {
    Log(LogLevel::kError, "job_store_failed", {{"job", job_.job_id()}, {"error", stored.message()}});
  }
  if (deps_.on_change) deps_.on_change(change);
  if (window_.has_value() && running && window_->Fires()) Stop(JOB_STATE_ABORTED, window_->Describe());
}

void JobRunner::RecordJobChange() {
  WatchJobResponse change;
  change.set_sequence(++sequence_);
  *change.mutable_job() = job_;
  if (absl::Status stored = deps_.journal.Record(job_, std::nullopt, {}, change); !stored.ok()) {
    Log(LogLevel::kError, "job_store_failed", {{"job", job_.job_id()}, {"error", stored.message()}});
  }
  if (deps_.on_change) deps_.on_change(change);
}

void JobRunner::Cancel(const std::string& reason) {
  if (job_.state() == JOB_STATE_RUNNING || job_.state() == JOB_STATE_PAUSED) Stop(JOB_STATE_CANCELLED, reason);
}

bool JobRunner::joining() const {
  return spec_.rollout().include_joining() && spec_.target().has_selector() &&
         (job_.state() == JOB_STATE_RUNNING || job_.state() == JOB_STATE_PAUSED);
}

bool JobRunner::Has(const std::string& device_id) const {
  return by_request_.contains(JobRequestId(job_.job_id(), device_id));
}

size_t JobRunner::Join(const std::vector<std::string>& device_ids, size_t max_devices) {
  if (!joining()) return 0;
  const size_t first = members_.size();
  for (const std::string& device_id : device_ids) {
    if (members_.size() >= max_devices) {
      if (!join_capped_) {
        join_capped_ = true;
        Log(LogLevel::kWarn, "job_join_capped",
            {{"job", job_.job_id()}, {"devices", members_.size()}, {"max_job_devices", max_devices}});
      }
      break;
    }
    Member member{device_id, JobRequestId(job_.job_id(), device_id), Bucket::kPending};
    // Already selected (or named twice in `device_ids`).
    if (!by_request_.emplace(member.request_id, members_.size()).second) continue;
    members_.push_back(std::move(member));
    Count(Bucket::kPending, +1);
  }
  const size_t added = members_.size() - first;
  if (added == 0) return 0;
  hive::bridge::v1::JobCounters& counters = *job_.mutable_counters();
  counters.set_selected(counters.selected() + static_cast<int64_t>(added));
  counters.set_joined(counters.joined() + static_cast<int64_t>(added));
  std::vector<std::string> joined;
  joined.reserve(added);
  for (size_t i = first; i < members_.size(); ++i) joined.push_back(members_[i].device_id);
  if (absl::Status stored = deps_.journal.Join(job_, first, joined); !stored.ok()) {
    // Never send to a device the journal does not have: a resumed job (or
    // the replica taking it over) would not know it. The next event or
    // sweep offers the devices again.
    Log(LogLevel::kWarn, "job_join_failed", {{"job", job_.job_id()}, {"error", stored.message()}});
    for (size_t i = first; i < members_.size(); ++i) by_request_.erase(members_[i].request_id);
    members_.resize(first);
    Count(Bucket::kPending, -static_cast<int64_t>(added));
    counters.set_selected(counters.selected() - static_cast<int64_t>(added));
    counters.set_joined(counters.joined() - static_cast<int64_t>(added));
    return 0;
  }
  plan_.Grow(members_.size());
  Log(LogLevel::kInfo, "job_devices_joined",
      {{"job", job_.job_id()}, {"devices", added}, {"selected", counters.selected()}});
  RecordJobChange();
  return added;
}

void JobRunner::Stop(JobState state, const std::string& reason) {
  job_.set_state(state);
  job_.set_end_reason(reason);
  Log(LogLevel::kInfo, "job_stopped",
      {{"job", job_.job_id()}, {"state", hive::bridge::v1::JobState_Name(state)}, {"reason", reason}});
  // Nothing is sent after this: the devices not yet sent are skipped...
  for (size_t i = 0; i < members_.size(); ++i) {
    if (members_[i].bucket == Bucket::kPending) Move(i, Bucket::kSkipped);
  }
  next_index_ = members_.size();
  RecordJobChange();
  // ...and those still queued for offline devices are cancelled; one handed
  // over meanwhile stays in flight until its outcome.
  for (const Member& member : members_) {
    if (member.bucket != Bucket::kQueued) continue;
    absl::StatusOr<RequestRecord> record = deps_.sender.Cancel(member.request_id);
    if (record.ok()) OnOutcome(member.request_id, record->status(), record->error(), record->account_id());
  }
  Save();
  EndIfDone();
}

void JobRunner::EndIfDone() {
  if (ended()) return;
  const hive::bridge::v1::JobCounters& counters = job_.counters();
  const bool drained = counters.pending() == 0 && counters.queued() == 0 && counters.in_flight() == 0;
  if (!drained) return;
  if (job_.state() == JOB_STATE_RUNNING || job_.state() == JOB_STATE_PAUSED) {
    if (next_index_ < members_.size()) return;
    job_.set_state(JOB_STATE_COMPLETED);
  }
  *job_.mutable_ended_at() = TimestampOf(deps_.clock.Now());
  Log(LogLevel::kInfo, "job_ended",
      {{"job", job_.job_id()},
       {"state", hive::bridge::v1::JobState_Name(job_.state())},
       {"succeeded", counters.succeeded()},
       {"failed", counters.failed()},
       {"expired", counters.expired()},
       {"skipped", counters.skipped()}});
  RecordJobChange();
  Save();
}

void JobRunner::Save() {
  if (absl::Status stored = deps_.journal.Advance(job_, next_index_); !stored.ok()) {
    Log(LogLevel::kError, "job_store_failed", {{"job", job_.job_id()}, {"error", stored.message()}});
  }
}

}  // namespace hive

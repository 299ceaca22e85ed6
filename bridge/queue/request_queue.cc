#include "bridge/queue/request_queue.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/log.h"
#include "bridge/status_macros.h"
#include "bridge/uuid.h"
#include "google/protobuf/util/time_util.h"

namespace hive {
namespace {

using google::protobuf::util::TimeUtil;
using hive::bridge::v1::SendDeviceRequestResponse;

// Times are stored as Unix nanoseconds.
int64_t Nanos(absl::Time time) { return absl::ToUnixNanos(time); }

google::protobuf::Timestamp TimestampOf(int64_t nanos) { return TimeUtil::NanosecondsToTimestamp(nanos); }

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS queued_requests (
  request_id TEXT PRIMARY KEY,
  device_id  TEXT NOT NULL,
  account_id TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  digest     INTEGER NOT NULL,
  request    BLOB NOT NULL,
  bytes      INTEGER NOT NULL,
  queued_at  INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  status     INTEGER NOT NULL,
  outcome    BLOB,
  ended_at   INTEGER
);
CREATE INDEX IF NOT EXISTS queued_requests_by_device ON queued_requests (device_id, status, seq);
CREATE INDEX IF NOT EXISTS queued_requests_by_expiry ON queued_requests (status, expires_at);
CREATE INDEX IF NOT EXISTS queued_requests_by_end ON queued_requests (ended_at);
)sql";

constexpr const char* kColumns =
    "request_id, device_id, account_id, digest, request, queued_at, expires_at, status, outcome";

}  // namespace

bool QueueStatusEnded(RequestStatus status) {
  switch (status) {
    case hive::bridge::v1::REQUEST_STATUS_SUCCEEDED:
    case hive::bridge::v1::REQUEST_STATUS_FAILED:
    case hive::bridge::v1::REQUEST_STATUS_EXPIRED:
    case hive::bridge::v1::REQUEST_STATUS_CANCELLED:
    case hive::bridge::v1::REQUEST_STATUS_UNCONFIRMED:
      return true;
    default:
      return false;
  }
}

struct RequestQueue::Pending {
  absl::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  Applied applied ABSL_GUARDED_BY(mu);
};

struct RequestQueue::Statements {
  SqliteStatement insert;
  SqliteStatement get;
  SqliteStatement queued;
  SqliteStatement move;
  SqliteStatement progress;
  SqliteStatement due;
  SqliteStatement old;
  SqliteStatement remove;
};

namespace {

// One row of kColumns as a stored request.
absl::StatusOr<RequestQueue::Stored> StoredFrom(const SqliteStatement& row) {
  RequestQueue::Stored stored;
  if (!stored.request.ParseFromString(row.ColumnBlob(4))) {
    return absl::DataLossError(absl::StrCat("queued request ", row.ColumnText(0), ": unreadable request"));
  }
  RequestRecord& record = stored.record;
  if (!row.ColumnIsNull(8) && !record.ParseFromString(row.ColumnBlob(8))) {
    return absl::DataLossError(absl::StrCat("queued request ", row.ColumnText(0), ": unreadable outcome"));
  }
  stored.digest = static_cast<RequestCorrelator::Digest>(row.ColumnInt64(3));
  record.set_request_id(row.ColumnText(0));
  record.set_device_id(row.ColumnText(1));
  record.set_account_id(row.ColumnText(2));
  *record.mutable_queued_at() = TimestampOf(row.ColumnInt64(5));
  *record.mutable_expires_at() = TimestampOf(row.ColumnInt64(6));
  record.set_status(static_cast<RequestStatus>(row.ColumnInt64(7)));
  *record.mutable_command() = stored.request.command();
  return stored;
}

// The outcome part of a record, as the `outcome` column keeps it.
std::string OutcomeBytes(const SendDeviceRequestResponse& outcome, const std::string& error) {
  RequestRecord part;
  if (outcome.has_sent_at()) *part.mutable_sent_at() = outcome.sent_at();
  if (outcome.has_ack_latency()) *part.mutable_ack_latency() = outcome.ack_latency();
  if (outcome.has_result_latency()) *part.mutable_result_latency() = outcome.result_latency();
  if (outcome.has_result()) *part.mutable_result() = outcome.result();
  *part.mutable_result_exact_numbers() = outcome.result_exact_numbers();
  part.set_error(error);
  return part.SerializeAsString();
}

std::string ExpiredError(const RequestRecord& record) {
  return absl::StrCat("queue_ttl passed at ", TimeUtil::ToString(record.expires_at()),
                      " before the device connected; never delivered");
}

}  // namespace

RequestQueue::RequestQueue(std::unique_ptr<SqliteDb> db, Limits limits, const Clock& clock)
    : limits_(limits), clock_(clock), db_(std::move(db)) {}

RequestQueue::~RequestQueue() {
  absl::MutexLock lock(&db_mu_);
  statements_.reset();  // before the connection they belong to
}

absl::StatusOr<std::unique_ptr<RequestQueue>> RequestQueue::Open(const std::string& path, Limits limits,
                                                                 const Clock& clock) {
  absl::StatusOr<std::unique_ptr<SqliteDb>> db = SqliteDb::Open(path, SqliteDb::Durability::kFull);
  if (!db.ok()) return db.status();
  std::unique_ptr<RequestQueue> queue(new RequestQueue(*std::move(db), limits, clock));
  HIVE_RETURN_IF_ERROR(queue->Prepare());
  HIVE_RETURN_IF_ERROR(queue->Load());
  return queue;
}

absl::StatusOr<std::unique_ptr<RequestQueue>> RequestQueue::OpenView(Limits limits, const Clock& clock) {
  absl::StatusOr<std::unique_ptr<SqliteDb>> db = SqliteDb::Open(":memory:", SqliteDb::Durability::kNormal);
  if (!db.ok()) return db.status();
  std::unique_ptr<RequestQueue> queue(new RequestQueue(*std::move(db), limits, clock));
  HIVE_RETURN_IF_ERROR(queue->Prepare());
  HIVE_RETURN_IF_ERROR(queue->Load());
  queue->caught_up_ = false;
  return queue;
}

void RequestQueue::Replicate(QueueLog* log, std::string replica, DeviceCallback queued, OrphanCallback orphaned) {
  log_ = log;
  replica_ = std::move(replica);
  on_queued_ = std::move(queued);
  on_orphaned_ = std::move(orphaned);
}

RequestQueue::Applied RequestQueue::Submit(QueueOp op) {
  if (op.id.empty()) op.id = NewUuid();
  op.replica = replica_;
  auto pending = std::make_shared<Pending>();
  {
    absl::MutexLock lock(&pending_mu_);
    pending_[op.id] = pending;
  }
  auto forget = [this, &op] {
    absl::MutexLock lock(&pending_mu_);
    pending_.erase(op.id);
  };
  if (!log_->Append(op)) {
    forget();
    return {absl::UnavailableError(
                "the message broker is unreachable: the fleet's queued requests cannot be changed now; try again"),
            std::nullopt, false};
  }
  absl::MutexLock lock(&pending->mu);
  if (!pending->mu.AwaitWithTimeout(absl::Condition(&pending->done), kOpTimeout)) {
    forget();
    return {absl::UnavailableError(absl::StrCat("the fleet's queue log (on the message broker) did not return this "
                                                "replica's operation within ",
                                                absl::FormatDuration(kOpTimeout), "; it may still take effect")),
            std::nullopt, false};
  }
  return std::move(pending->applied);
}

void RequestQueue::Apply(const QueueOp& op) {
  Applied applied = ApplyOp(op);
  if (!applied.status.ok() && !absl::IsInvalidArgument(applied.status) && !absl::IsResourceExhausted(applied.status) &&
      !absl::IsFailedPrecondition(applied.status) && !absl::IsNotFound(applied.status)) {
    Log(LogLevel::kError, "queue_view_failed",
        {{"request", op.request_id}, {"op", op.id}, {"error", applied.status.ToString()}});
  }
  if (op.kind == QueueOp::Kind::kMarker && op.replica == replica_) {
    if (!caught_up_.exchange(true)) {
      // Claimed by this replica in a previous life and never answered: the
      // device may have them, so they are not sent again.
      std::vector<std::string> mine = ClaimedBy(replica_);
      if (!mine.empty() && on_orphaned_) on_orphaned_(std::move(mine));
    }
    // Releases of claims that timed out while the broker was away, after
    // anything this replica's outbox held from before.
    std::vector<QueueOp> releases;
    {
      absl::MutexLock lock(&pending_mu_);
      releases.swap(unsent_releases_);
    }
    for (QueueOp& release : releases) {
      if (!log_->Append(release)) {
        absl::MutexLock lock(&pending_mu_);
        unsent_releases_.push_back(std::move(release));
      }
    }
    // (Re)connected and caught up: a delivery that stopped while the broker
    // was away goes on (only the holder of each device finds it).
    std::vector<std::string> waiting;
    {
      absl::MutexLock lock(&counts_mu_);
      for (const auto& [device_id, count] : queued_by_device_) waiting.push_back(device_id);
    }
    if (on_queued_) {
      for (const std::string& device_id : waiting) on_queued_(device_id);
    }
  }
  if (op.kind == QueueOp::Kind::kQueued && applied.changed && on_queued_) on_queued_(op.request.device_id());
  std::shared_ptr<Pending> pending;
  {
    absl::MutexLock lock(&pending_mu_);
    auto it = pending_.find(op.id);
    if (it == pending_.end()) return;
    pending = std::move(it->second);
    pending_.erase(it);
  }
  absl::MutexLock lock(&pending->mu);
  pending->applied = std::move(applied);
  pending->done = true;
}

RequestQueue::Applied RequestQueue::ApplyOp(const QueueOp& op) {
  const bool own = op.replica == replica_;
  switch (op.kind) {
    case QueueOp::Kind::kQueued: {
      if (op.request.request_id() != op.request_id) {
        return {absl::InvalidArgumentError("queued operation: request ids differ"), std::nullopt, false};
      }
      absl::StatusOr<Enqueued> enqueued = EnqueueAt(op.request, op.digest, op.at, op.expires_at, own);
      if (!enqueued.ok()) return {enqueued.status(), std::nullopt, false};
      return {absl::OkStatus(), std::move(enqueued->record), enqueued->inserted};
    }
    case QueueOp::Kind::kClaim: {
      absl::StatusOr<bool> claimed = HandOverAt(op.request_id, op.at, op.id, op.replica);
      if (!claimed.ok()) return {claimed.status(), std::nullopt, false};
      return {absl::OkStatus(), std::nullopt, *claimed};
    }
    case QueueOp::Kind::kRelease: {
      absl::StatusOr<bool> released = RequeueAt(op.request_id, op.claim);
      if (!released.ok()) return {released.status(), std::nullopt, false};
      return {absl::OkStatus(), std::nullopt, *released};
    }
    case QueueOp::Kind::kProgress: {
      absl::StatusOr<std::optional<RequestRecord>> record =
          ProgressAt(op.request_id, op.status, op.outcome, op.error, op.ended, op.at);
      if (!record.ok()) return {record.status(), std::nullopt, false};
      const bool changed = record->has_value();
      return {absl::OkStatus(), *std::move(record), changed};
    }
    case QueueOp::Kind::kCancel: {
      absl::StatusOr<Cancelled> cancelled = CancelAt(op.request_id, op.at);
      if (!cancelled.ok()) return {cancelled.status(), std::nullopt, false};
      return {absl::OkStatus(), std::move(cancelled->record), cancelled->changed};
    }
    case QueueOp::Kind::kExpire: {
      absl::StatusOr<std::optional<RequestRecord>> record = ExpireAt(op.request_id, op.at);
      if (!record.ok()) return {record.status(), std::nullopt, false};
      const bool changed = record->has_value();
      return {absl::OkStatus(), *std::move(record), changed};
    }
    case QueueOp::Kind::kOrphan: {
      absl::StatusOr<std::optional<RequestRecord>> record = OrphanAt(op.request_id, op.claim, op.at);
      if (!record.ok()) return {record.status(), std::nullopt, false};
      const bool changed = record->has_value();
      return {absl::OkStatus(), *std::move(record), changed};
    }
    case QueueOp::Kind::kMarker:
      break;
  }
  return {};
}

std::vector<std::string> RequestQueue::ClaimedBy(const std::string& replica) {
  absl::MutexLock lock(&db_mu_);
  std::vector<std::string> ids;
  for (const auto& [request_id, claim] : claims_) {
    if (claim.second != replica) continue;
    absl::StatusOr<std::optional<Stored>> stored = GetLocked(request_id);
    if (stored.ok() && stored->has_value() && (*stored)->record.status() == hive::bridge::v1::REQUEST_STATUS_SENT) {
      ids.push_back(request_id);
    }
  }
  return ids;
}

absl::StatusOr<std::optional<RequestRecord>> RequestQueue::Orphan(const std::string& request_id,
                                                                  const std::string& replica) {
  QueueOp op;
  op.kind = QueueOp::Kind::kOrphan;
  op.at = clock_.Now();
  op.request_id = request_id;
  op.claim = replica;
  Applied applied = Submit(std::move(op));
  if (!applied.status.ok()) return applied.status;
  if (!applied.changed) return std::optional<RequestRecord>();
  return std::move(applied.record);
}

absl::StatusOr<std::optional<RequestRecord>> RequestQueue::OrphanAt(const std::string& request_id,
                                                                    const std::string& replica, absl::Time at) {
  {
    absl::MutexLock lock(&db_mu_);
    auto claim = claims_.find(request_id);
    if (claim == claims_.end() || claim->second.second != replica) return std::optional<RequestRecord>();
    absl::StatusOr<std::optional<Stored>> stored = GetLocked(request_id);
    if (!stored.ok()) return stored.status();
    if (!stored->has_value() || (*stored)->record.status() != hive::bridge::v1::REQUEST_STATUS_SENT) {
      return std::optional<RequestRecord>();
    }
  }
  const SendDeviceRequestResponse outcome;
  return ProgressAt(request_id, hive::bridge::v1::REQUEST_STATUS_UNCONFIRMED, outcome,
                    absl::StrCat("replica ", replica,
                                 " went away after handing the request to the device's connection and before the "
                                 "device answered; the device may have it, so it is not sent again"),
                    true, at);
}

absl::Status RequestQueue::Prepare() {
  absl::MutexLock lock(&db_mu_);
  HIVE_RETURN_IF_ERROR(db_->Exec(kSchema));
  auto prepare = [this](const std::string& sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_) { return db_->Prepare(sql); };
  absl::StatusOr<SqliteStatement> insert = prepare(
      "INSERT INTO queued_requests (request_id, device_id, account_id, seq, digest, request, bytes, queued_at, "
      "expires_at, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  absl::StatusOr<SqliteStatement> get =
      prepare(absl::StrCat("SELECT ", kColumns, ", bytes FROM queued_requests WHERE request_id = ?1"));
  absl::StatusOr<SqliteStatement> queued = prepare(absl::StrCat(
      "SELECT ", kColumns, " FROM queued_requests WHERE device_id = ?1 AND status = ?2 ORDER BY seq LIMIT ?3"));
  absl::StatusOr<SqliteStatement> move =
      prepare("UPDATE queued_requests SET status = ?3, ended_at = ?4 WHERE request_id = ?1 AND status = ?2");
  absl::StatusOr<SqliteStatement> progress = prepare(
      "UPDATE queued_requests SET status = ?2, outcome = ?3, ended_at = COALESCE(ended_at, ?4) "
      "WHERE request_id = ?1");
  absl::StatusOr<SqliteStatement> due = prepare(absl::StrCat(
      "SELECT ", kColumns, ", bytes FROM queued_requests WHERE status = ?1 AND expires_at <= ?2 ORDER BY expires_at"));
  absl::StatusOr<SqliteStatement> old =
      prepare("SELECT request_id FROM queued_requests WHERE ended_at IS NOT NULL AND ended_at <= ?1");
  absl::StatusOr<SqliteStatement> remove =
      prepare("DELETE FROM queued_requests WHERE ended_at IS NOT NULL AND ended_at <= ?1");
  for (const absl::StatusOr<SqliteStatement>* statement :
       {&insert, &get, &queued, &move, &progress, &due, &old, &remove}) {
    if (!statement->ok()) return statement->status();
  }
  statements_ = std::make_unique<Statements>(Statements{*std::move(insert), *std::move(get), *std::move(queued),
                                                        *std::move(move), *std::move(progress), *std::move(due),
                                                        *std::move(old), *std::move(remove)});
  return absl::OkStatus();
}

absl::Status RequestQueue::Load() {
  absl::MutexLock lock(&db_mu_);
  // A request handed over before the process stopped may have reached the
  // device: it is never sent again, and its outcome is unknown.
  {
    absl::StatusOr<SqliteStatement> handed = db_->Prepare(
        absl::StrCat("SELECT ", kColumns,
                     " FROM queued_requests WHERE status = ", static_cast<int>(hive::bridge::v1::REQUEST_STATUS_SENT)));
    if (!handed.ok()) return handed.status();
    while (true) {
      absl::StatusOr<bool> row = handed->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      absl::StatusOr<Stored> stored = StoredFrom(*handed);
      if (!stored.ok()) return stored.status();
      recovered_.push_back(std::move(stored->record));
    }
  }
  if (!recovered_.empty()) {
    const std::string error =
        "the bridge stopped after handing the request to the device's connection and before the device answered; "
        "the device may have it, so it is not sent again";
    absl::StatusOr<SqliteTransaction> tx = SqliteTransaction::Begin(*db_);
    if (!tx.ok()) return tx.status();
    for (RequestRecord& record : recovered_) {
      record.set_status(hive::bridge::v1::REQUEST_STATUS_UNCONFIRMED);
      record.set_error(error);
      SendDeviceRequestResponse outcome;
      if (record.has_sent_at()) *outcome.mutable_sent_at() = record.sent_at();
      SqliteStatement& progress = statements_->progress;
      progress.Reset();
      progress.BindText(1, record.request_id());
      progress.BindInt64(2, hive::bridge::v1::REQUEST_STATUS_UNCONFIRMED);
      progress.BindBlob(3, OutcomeBytes(outcome, error));
      progress.BindInt64(4, Nanos(clock_.Now()));
      HIVE_RETURN_IF_ERROR(progress.Run());
    }
    HIVE_RETURN_IF_ERROR(tx->Commit());
  }
  // An acknowledged request's result can no longer be matched: its record
  // ends, so that --request-retention applies to it.
  HIVE_RETURN_IF_ERROR(db_->Exec(absl::StrCat(
      "UPDATE queued_requests SET ended_at = ", Nanos(clock_.Now()),
      " WHERE status = ", static_cast<int>(hive::bridge::v1::REQUEST_STATUS_ACKED), " AND ended_at IS NULL")));
  absl::StatusOr<SqliteStatement> all =
      db_->Prepare("SELECT request_id, device_id, status, bytes FROM queued_requests");
  if (!all.ok()) return all.status();
  absl::MutexLock counts(&counts_mu_);
  while (true) {
    absl::StatusOr<bool> row = all->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    ids_.insert(all->ColumnText(0));
    if (all->ColumnInt64(2) == hive::bridge::v1::REQUEST_STATUS_QUEUED) {
      ++queued_by_device_[all->ColumnText(1)];
      ++queued_;
      queued_bytes_ += static_cast<size_t>(all->ColumnInt64(3));
    }
  }
  absl::StatusOr<SqliteStatement> seq = db_->Prepare("SELECT COALESCE(MAX(seq), 0) FROM queued_requests");
  if (!seq.ok()) return seq.status();
  absl::StatusOr<bool> row = seq->Step();
  if (!row.ok()) return row.status();
  next_seq_ = seq->ColumnInt64(0) + 1;
  return absl::OkStatus();
}

std::vector<RequestRecord> RequestQueue::TakeRecovered() {
  absl::MutexLock lock(&db_mu_);
  return std::move(recovered_);
}

absl::Status RequestQueue::Room(const std::string& device_id, size_t bytes, bool count) {
  absl::MutexLock lock(&counts_mu_);
  auto it = queued_by_device_.find(device_id);
  if (it != queued_by_device_.end() && it->second >= limits_.max_per_device) {
    if (count) CountIn(counters_, Limit::kMaxQueuedPerDevice);
    return absl::ResourceExhaustedError(
        absl::StrCat("device ", device_id, " already has ", it->second, " queued requests (--max-queued-per-device)"));
  }
  if (queued_ >= limits_.max_requests) {
    if (count) CountIn(counters_, Limit::kMaxQueuedRequests);
    return absl::ResourceExhaustedError(
        absl::StrCat("the bridge already holds ", queued_, " queued requests (--max-queued-requests)"));
  }
  if (queued_bytes_ + bytes > limits_.max_bytes) {
    if (count) CountIn(counters_, Limit::kMaxQueuedBytes);
    return absl::ResourceExhaustedError(absl::StrCat("queued requests would take ", queued_bytes_ + bytes,
                                                     " bytes, over --max-queued-bytes=", limits_.max_bytes));
  }
  return absl::OkStatus();
}

void RequestQueue::Count(const std::string& device_id, size_t bytes, int delta) {
  absl::MutexLock lock(&counts_mu_);
  if (delta > 0) {
    ++queued_by_device_[device_id];
    ++queued_;
    queued_bytes_ += bytes;
    return;
  }
  auto it = queued_by_device_.find(device_id);
  if (it == queued_by_device_.end()) return;
  if (--it->second == 0) queued_by_device_.erase(it);
  --queued_;
  queued_bytes_ -= std::min(bytes, queued_bytes_);
}

void RequestQueue::CountEnded(RequestStatus status) {
  absl::MutexLock lock(&counts_mu_);
  ++ended_[static_cast<int>(status)];
}

absl::StatusOr<RequestQueue::Enqueued> RequestQueue::Enqueue(const SendDeviceRequestRequest& request,
                                                             RequestCorrelator::Digest digest, absl::Duration ttl) {
  const absl::Time now = clock_.Now();
  if (log_ == nullptr) return EnqueueAt(request, digest, now, now + ttl, /*count_refusal=*/true);
  QueueOp op;
  op.kind = QueueOp::Kind::kQueued;
  op.at = now;
  op.request_id = request.request_id();
  op.request = request;
  op.digest = digest;
  op.expires_at = now + ttl;
  Applied applied = Submit(std::move(op));
  if (!applied.status.ok()) return applied.status;
  if (!applied.record.has_value()) return absl::InternalError("queued operation applied without a record");
  return Enqueued{*std::move(applied.record), applied.changed};
}

absl::StatusOr<RequestQueue::Enqueued> RequestQueue::EnqueueAt(const SendDeviceRequestRequest& request,
                                                               RequestCorrelator::Digest digest, absl::Time queued_at,
                                                               absl::Time expires_at, bool count_refusal) {
  absl::MutexLock lock(&db_mu_);
  absl::StatusOr<std::optional<Stored>> known = GetLocked(request.request_id());
  if (!known.ok()) return known.status();
  if (known->has_value()) {
    const Stored& stored = **known;
    if (stored.record.device_id() != request.device_id()) {
      return absl::InvalidArgumentError(
          absl::StrCat("request_id ", request.request_id(), " already used for another device"));
    }
    if (stored.digest != digest) {
      return absl::InvalidArgumentError(absl::StrCat(
          "request_id ", request.request_id(),
          " already used for a different request (another command or state); a retry must repeat the request "
          "exactly, a new request needs a new request_id"));
    }
    return Enqueued{stored.record, false};
  }
  const std::string bytes = request.SerializeAsString();
  HIVE_RETURN_IF_ERROR(Room(request.device_id(), bytes.size(), count_refusal));
  SqliteStatement& insert = statements_->insert;
  insert.Reset();
  insert.BindText(1, request.request_id());
  insert.BindText(2, request.device_id());
  insert.BindText(3, request.account_id());
  insert.BindInt64(4, next_seq_);
  insert.BindInt64(5, static_cast<int64_t>(digest));
  insert.BindBlob(6, bytes);
  insert.BindInt64(7, static_cast<int64_t>(bytes.size()));
  insert.BindInt64(8, Nanos(queued_at));
  insert.BindInt64(9, Nanos(expires_at));
  insert.BindInt64(10, hive::bridge::v1::REQUEST_STATUS_QUEUED);
  // A single statement commits on its own (autocommit), durably before the
  // caller answers QUEUED.
  HIVE_RETURN_IF_ERROR(insert.Run());
  ++next_seq_;
  Count(request.device_id(), bytes.size(), +1);
  {
    absl::MutexLock counts(&counts_mu_);
    ids_.insert(request.request_id());
  }
  Enqueued enqueued;
  enqueued.inserted = true;
  RequestRecord& record = enqueued.record;
  record.set_request_id(request.request_id());
  record.set_device_id(request.device_id());
  record.set_account_id(request.account_id());
  record.set_status(hive::bridge::v1::REQUEST_STATUS_QUEUED);
  *record.mutable_queued_at() = TimestampOf(Nanos(queued_at));
  *record.mutable_expires_at() = TimestampOf(Nanos(expires_at));
  *record.mutable_command() = request.command();
  return enqueued;
}

bool RequestQueue::Knows(const std::string& request_id) const {
  absl::MutexLock lock(&counts_mu_);
  return ids_.contains(request_id);
}

absl::StatusOr<std::optional<RequestQueue::Stored>> RequestQueue::Get(const std::string& request_id) {
  absl::MutexLock lock(&db_mu_);
  return GetLocked(request_id);
}

absl::StatusOr<std::optional<RequestQueue::Stored>> RequestQueue::GetLocked(const std::string& request_id) {
  SqliteStatement& get = statements_->get;
  get.Reset();
  get.BindText(1, request_id);
  absl::StatusOr<bool> row = get.Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::nullopt;
  absl::StatusOr<Stored> stored = StoredFrom(get);
  get.Reset();  // ends the read at once
  if (!stored.ok()) return stored.status();
  return std::optional<Stored>(*std::move(stored));
}

size_t RequestQueue::queued_for(const std::string& device_id) const {
  absl::MutexLock lock(&counts_mu_);
  auto it = queued_by_device_.find(device_id);
  return it == queued_by_device_.end() ? 0 : it->second;
}

absl::StatusOr<std::vector<RequestQueue::Stored>> RequestQueue::Queued(const std::string& device_id, size_t limit) {
  absl::MutexLock lock(&db_mu_);
  SqliteStatement& queued = statements_->queued;
  queued.Reset();
  queued.BindText(1, device_id);
  queued.BindInt64(2, hive::bridge::v1::REQUEST_STATUS_QUEUED);
  queued.BindInt64(3, static_cast<int64_t>(limit));
  std::vector<Stored> out;
  while (true) {
    absl::StatusOr<bool> row = queued.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    absl::StatusOr<Stored> stored = StoredFrom(queued);
    if (!stored.ok()) return stored.status();
    out.push_back(*std::move(stored));
  }
  queued.Reset();
  return out;
}

absl::StatusOr<bool> RequestQueue::Move(const std::string& request_id, RequestStatus from, RequestStatus to, bool ended,
                                        absl::Time at) {
  SqliteStatement& move = statements_->move;
  move.Reset();
  move.BindText(1, request_id);
  move.BindInt64(2, from);
  move.BindInt64(3, to);
  if (ended) {
    move.BindInt64(4, Nanos(at));
  } else {
    move.BindNull(4);
  }
  HIVE_RETURN_IF_ERROR(move.Run());
  return db_->changes() > 0;
}

absl::StatusOr<bool> RequestQueue::HandOver(const std::string& request_id) {
  if (log_ == nullptr) return HandOverAt(request_id, clock_.Now(), "", "");
  QueueOp op;
  op.kind = QueueOp::Kind::kClaim;
  op.id = NewUuid();
  op.at = clock_.Now();
  op.request_id = request_id;
  Applied applied = Submit(op);
  if (!applied.status.ok()) {
    // The claim may still be applied, and win: undo it then, so that the
    // request is not left SENT though never written.
    QueueOp release;
    release.kind = QueueOp::Kind::kRelease;
    release.id = NewUuid();
    release.replica = replica_;
    release.at = clock_.Now();
    release.request_id = request_id;
    release.claim = op.id;
    if (!log_->Append(release)) {
      // The claim may still be in the bus's outbox, sent after reconnecting:
      // the release follows it then (see Apply, own marker).
      absl::MutexLock lock(&pending_mu_);
      unsent_releases_.push_back(std::move(release));
    }
    return applied.status;
  }
  return applied.changed;
}

absl::StatusOr<bool> RequestQueue::HandOverAt(const std::string& request_id, absl::Time at, const std::string& claim,
                                              const std::string& claimer) {
  absl::MutexLock lock(&db_mu_);
  absl::StatusOr<std::optional<Stored>> stored = GetLocked(request_id);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return false;
  // A claim made after the TTL passed loses: the request expires instead.
  if (!claim.empty() && at >= absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds((*stored)->record.expires_at()))) {
    return false;
  }
  absl::StatusOr<bool> moved =
      Move(request_id, hive::bridge::v1::REQUEST_STATUS_QUEUED, hive::bridge::v1::REQUEST_STATUS_SENT, false, at);
  if (!moved.ok() || !*moved) return moved;
  Count((*stored)->record.device_id(), (*stored)->request.ByteSizeLong(), -1);
  if (!claim.empty()) claims_[request_id] = {claim, claimer};
  return true;
}

absl::Status RequestQueue::Requeue(const std::string& request_id) {
  if (log_ == nullptr) return RequeueAt(request_id, "").status();
  QueueOp op;
  op.kind = QueueOp::Kind::kRelease;
  op.at = clock_.Now();
  op.request_id = request_id;
  {
    absl::MutexLock lock(&db_mu_);
    auto claim = claims_.find(request_id);
    // Only this replica's own winning claim is released.
    if (claim == claims_.end() || claim->second.second != replica_) return absl::OkStatus();
    op.claim = claim->second.first;
  }
  return Submit(std::move(op)).status;
}

absl::StatusOr<bool> RequestQueue::RequeueAt(const std::string& request_id, const std::string& claim) {
  absl::MutexLock lock(&db_mu_);
  if (!claim.empty()) {
    auto won = claims_.find(request_id);
    if (won == claims_.end() || won->second.first != claim) return false;
  }
  absl::StatusOr<std::optional<Stored>> stored = GetLocked(request_id);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return false;
  absl::StatusOr<bool> moved = Move(request_id, hive::bridge::v1::REQUEST_STATUS_SENT,
                                    hive::bridge::v1::REQUEST_STATUS_QUEUED, false, absl::UnixEpoch());
  if (!moved.ok()) return moved.status();
  // Back in line, over the limits if need be: it was admitted once.
  if (*moved) {
    Count((*stored)->record.device_id(), (*stored)->request.ByteSizeLong(), +1);
    claims_.erase(request_id);
  }
  return *moved;
}

absl::StatusOr<std::optional<RequestRecord>> RequestQueue::Progress(const std::string& request_id, RequestStatus status,
                                                                    const SendDeviceRequestResponse& outcome,
                                                                    const std::string& error, bool ended) {
  if (log_ == nullptr) return ProgressAt(request_id, status, outcome, error, ended, clock_.Now());
  QueueOp op;
  op.kind = QueueOp::Kind::kProgress;
  op.at = clock_.Now();
  op.request_id = request_id;
  op.status = status;
  op.outcome = outcome;
  op.error = error;
  op.ended = ended;
  Applied applied = Submit(std::move(op));
  if (!applied.status.ok()) return applied.status;
  return std::move(applied.record);
}

absl::StatusOr<std::optional<RequestRecord>> RequestQueue::ProgressAt(const std::string& request_id,
                                                                      RequestStatus status,
                                                                      const SendDeviceRequestResponse& outcome,
                                                                      const std::string& error, bool ended,
                                                                      absl::Time at) {
  absl::MutexLock lock(&db_mu_);
  absl::StatusOr<std::optional<Stored>> stored = GetLocked(request_id);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return std::optional<RequestRecord>();
  RequestRecord record = std::move((*stored)->record);
  const RequestStatus before = record.status();
  // A request not handed over (queued, cancelled, expired) is not the one
  // the device answers: nothing to record.
  if (before == hive::bridge::v1::REQUEST_STATUS_QUEUED || before == hive::bridge::v1::REQUEST_STATUS_CANCELLED ||
      before == hive::bridge::v1::REQUEST_STATUS_EXPIRED) {
    return std::optional<RequestRecord>();
  }
  SqliteStatement& progress = statements_->progress;
  progress.Reset();
  progress.BindText(1, request_id);
  progress.BindInt64(2, status);
  progress.BindBlob(3, OutcomeBytes(outcome, error));
  if (ended) {
    progress.BindInt64(4, Nanos(at));
  } else {
    progress.BindNull(4);
  }
  HIVE_RETURN_IF_ERROR(progress.Run());
  if (QueueStatusEnded(status) && !QueueStatusEnded(before)) CountEnded(status);
  absl::StatusOr<std::optional<Stored>> updated = GetLocked(request_id);
  if (!updated.ok()) return updated.status();
  if (!updated->has_value()) return std::optional<RequestRecord>();
  return std::optional<RequestRecord>(std::move((*updated)->record));
}

absl::StatusOr<RequestQueue::Cancelled> RequestQueue::Cancel(const std::string& request_id) {
  if (log_ == nullptr) return CancelAt(request_id, clock_.Now());
  QueueOp op;
  op.kind = QueueOp::Kind::kCancel;
  op.at = clock_.Now();
  op.request_id = request_id;
  Applied applied = Submit(std::move(op));
  if (!applied.status.ok()) return applied.status;
  if (!applied.record.has_value()) return absl::InternalError("cancel operation applied without a record");
  return Cancelled{*std::move(applied.record), applied.changed};
}

absl::StatusOr<RequestQueue::Cancelled> RequestQueue::CancelAt(const std::string& request_id, absl::Time at) {
  absl::MutexLock lock(&db_mu_);
  absl::StatusOr<std::optional<Stored>> stored = GetLocked(request_id);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) {
    return absl::NotFoundError(absl::StrCat("request ", request_id,
                                            " is not known: never sent, or forgotten (--request-retention for queued "
                                            "requests, --dedupe-window for others)"));
  }
  RequestRecord& record = (*stored)->record;
  switch (record.status()) {
    case hive::bridge::v1::REQUEST_STATUS_CANCELLED:
      return Cancelled{std::move(record), false};
    case hive::bridge::v1::REQUEST_STATUS_QUEUED: {
      absl::StatusOr<bool> moved = Move(request_id, hive::bridge::v1::REQUEST_STATUS_QUEUED,
                                        hive::bridge::v1::REQUEST_STATUS_CANCELLED, true, at);
      if (!moved.ok()) return moved.status();
      Count(record.device_id(), (*stored)->request.ByteSizeLong(), -1);
      CountEnded(hive::bridge::v1::REQUEST_STATUS_CANCELLED);
      record.set_status(hive::bridge::v1::REQUEST_STATUS_CANCELLED);
      return Cancelled{std::move(record), true};
    }
    case hive::bridge::v1::REQUEST_STATUS_EXPIRED:
      return absl::FailedPreconditionError(absl::StrCat("request ", request_id, " expired at ",
                                                        TimeUtil::ToString(record.expires_at()),
                                                        " without being delivered; there is nothing to cancel"));
    default: {
      const std::string when =
          record.has_sent_at() ? TimeUtil::ToString(record.sent_at()) : std::string("a moment ago");
      return absl::FailedPreconditionError(
          absl::StrCat("request ", request_id, " was already handed to the device at ", when, " (status ",
                       hive::bridge::v1::RequestStatus_Name(record.status()), "); it can no longer be cancelled"));
    }
  }
}

absl::StatusOr<std::vector<RequestQueue::Stored>> RequestQueue::DueLocked(absl::Time at) {
  SqliteStatement& due = statements_->due;
  due.Reset();
  due.BindInt64(1, hive::bridge::v1::REQUEST_STATUS_QUEUED);
  due.BindInt64(2, Nanos(at));
  std::vector<Stored> expiring;
  while (true) {
    absl::StatusOr<bool> row = due.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    absl::StatusOr<Stored> stored = StoredFrom(due);
    if (!stored.ok()) return stored.status();
    expiring.push_back(*std::move(stored));
  }
  due.Reset();
  return expiring;
}

absl::StatusOr<std::optional<RequestRecord>> RequestQueue::ExpireAt(const std::string& request_id, absl::Time at) {
  absl::MutexLock lock(&db_mu_);
  absl::StatusOr<std::optional<Stored>> stored = GetLocked(request_id);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return std::optional<RequestRecord>();
  RequestRecord& record = (*stored)->record;
  if (at < absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(record.expires_at()))) {
    return std::optional<RequestRecord>();
  }
  absl::StatusOr<bool> moved =
      Move(request_id, hive::bridge::v1::REQUEST_STATUS_QUEUED, hive::bridge::v1::REQUEST_STATUS_EXPIRED, true, at);
  if (!moved.ok()) return moved.status();
  if (!*moved) return std::optional<RequestRecord>();
  Count(record.device_id(), (*stored)->request.ByteSizeLong(), -1);
  CountEnded(hive::bridge::v1::REQUEST_STATUS_EXPIRED);
  record.set_status(hive::bridge::v1::REQUEST_STATUS_EXPIRED);
  record.set_error(ExpiredError(record));
  return std::optional<RequestRecord>(std::move(record));
}

absl::StatusOr<std::vector<RequestRecord>> RequestQueue::ExpireDue() {
  const absl::Time now = clock_.Now();
  std::vector<RequestRecord> expired;
  if (log_ != nullptr) {
    absl::StatusOr<std::vector<Stored>> due;
    {
      absl::MutexLock lock(&db_mu_);
      due = DueLocked(now);
    }
    if (!due.ok()) return due.status();
    // Every replica proposes the expiry; the first in the log does it, and
    // only its issuer hears it changed something.
    for (const Stored& stored : *due) {
      QueueOp op;
      op.kind = QueueOp::Kind::kExpire;
      op.at = now;
      op.request_id = stored.record.request_id();
      Applied applied = Submit(std::move(op));
      // The broker is away (the bus says so, and readiness follows): the
      // next tick after it is back proposes the rest.
      if (absl::IsUnavailable(applied.status)) break;
      if (!applied.status.ok()) return applied.status;
      if (applied.changed && applied.record.has_value()) expired.push_back(*std::move(applied.record));
    }
    return expired;
  }
  absl::MutexLock lock(&db_mu_);
  absl::StatusOr<std::vector<Stored>> due = DueLocked(now);
  if (!due.ok()) return due.status();
  std::vector<Stored>& expiring = *due;
  if (expiring.empty()) return expired;
  absl::StatusOr<SqliteTransaction> tx = SqliteTransaction::Begin(*db_);
  if (!tx.ok()) return tx.status();
  std::vector<Stored*> moved;
  for (Stored& stored : expiring) {
    absl::StatusOr<bool> changed = Move(stored.record.request_id(), hive::bridge::v1::REQUEST_STATUS_QUEUED,
                                        hive::bridge::v1::REQUEST_STATUS_EXPIRED, true, now);
    if (!changed.ok()) return changed.status();
    if (*changed) moved.push_back(&stored);
  }
  HIVE_RETURN_IF_ERROR(tx->Commit());
  for (Stored* stored : moved) {
    Count(stored->record.device_id(), stored->request.ByteSizeLong(), -1);
    CountEnded(hive::bridge::v1::REQUEST_STATUS_EXPIRED);
    stored->record.set_status(hive::bridge::v1::REQUEST_STATUS_EXPIRED);
    stored->record.set_error(ExpiredError(stored->record));
    expired.push_back(std::move(stored->record));
  }
  return expired;
}

absl::StatusOr<size_t> RequestQueue::DeleteEnded(absl::Duration retention) {
  absl::MutexLock lock(&db_mu_);
  const int64_t before = Nanos(clock_.Now() - retention);
  SqliteStatement& old = statements_->old;
  old.Reset();
  old.BindInt64(1, before);
  std::vector<std::string> ids;
  while (true) {
    absl::StatusOr<bool> row = old.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    ids.push_back(old.ColumnText(0));
  }
  old.Reset();
  if (ids.empty()) return 0;
  SqliteStatement& remove = statements_->remove;
  remove.Reset();
  remove.BindInt64(1, before);
  HIVE_RETURN_IF_ERROR(remove.Run());
  absl::MutexLock counts(&counts_mu_);
  for (const std::string& id : ids) {
    ids_.erase(id);
    claims_.erase(id);
  }
  return ids.size();
}

RequestQueue::Stats RequestQueue::stats() const {
  absl::MutexLock lock(&counts_mu_);
  Stats stats;
  stats.queued = queued_;
  stats.queued_bytes = queued_bytes_;
  for (RequestStatus status : {hive::bridge::v1::REQUEST_STATUS_SUCCEEDED, hive::bridge::v1::REQUEST_STATUS_FAILED,
                               hive::bridge::v1::REQUEST_STATUS_EXPIRED, hive::bridge::v1::REQUEST_STATUS_CANCELLED,
                               hive::bridge::v1::REQUEST_STATUS_UNCONFIRMED}) {
    auto it = ended_.find(static_cast<int>(status));
    stats.ended.emplace_back(status, it == ended_.end() ? 0 : it->second);
  }
  return stats;
}

}  // namespace hive

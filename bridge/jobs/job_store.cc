#include "bridge/jobs/job_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bridge/jobs/job_status.h"
#include "bridge/status_macros.h"
#include "google/protobuf/util/time_util.h"

namespace hive {
namespace {

using google::protobuf::util::TimeUtil;
using hive::bridge::v1::StartJobRequest;

// `job` is the job without its spec (job_status.h), rewritten on every
// change; `spec` its spec without an explicit device list, and
// `listed_devices` that list (a JobDeviceList, NULL for a selector), both
// written once by Create. A database of before these two columns (the whole
// Job in `job`) is migrated when opened (MigrateSpecsLocked).
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS jobs (
  job_id     TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  state      INTEGER NOT NULL,
  next_index INTEGER NOT NULL,
  job        BLOB NOT NULL,
  ended_at   INTEGER,
  spec       BLOB,
  listed_devices BLOB
);
CREATE INDEX IF NOT EXISTS jobs_by_creation ON jobs (created_at, job_id);
CREATE INDEX IF NOT EXISTS jobs_by_end ON jobs (ended_at);
CREATE TABLE IF NOT EXISTS job_devices (
  job_id    TEXT NOT NULL,
  idx       INTEGER NOT NULL,
  device_id TEXT NOT NULL,
  status    INTEGER NOT NULL,
  PRIMARY KEY (job_id, idx)
);
CREATE TABLE IF NOT EXISTS job_history (
  job_id TEXT NOT NULL,
  seq    INTEGER NOT NULL,
  change BLOB NOT NULL,
  PRIMARY KEY (job_id, seq)
);
)sql";

int64_t CreatedNanos(const Job& job) { return TimeUtil::TimestampToNanoseconds(job.created_at()); }

// The job in `row`'s column `column`, its spec from column `spec_column`
// when that is not NULL, and, when `listed_column` is set and not NULL, the
// spec's explicit device list from it. Column 0 is the job id.
absl::StatusOr<Job> JobFrom(const SqliteStatement& row, int column, int spec_column,
                            std::optional<int> listed_column = std::nullopt) {
  Job job;
  if (!job.ParseFromString(row.ColumnBlob(column)) ||
      (!row.ColumnIsNull(spec_column) && !job.mutable_spec()->ParseFromString(row.ColumnBlob(spec_column))) ||
      (listed_column.has_value() && !row.ColumnIsNull(*listed_column) &&
       !job.mutable_spec()->mutable_target()->mutable_devices()->ParseFromString(row.ColumnBlob(*listed_column)))) {
    return absl::DataLossError(absl::StrCat("job ", row.ColumnText(0), ": unreadable"));
  }
  return job;
}

// A spec as stored: without its explicit device list (a selector's spec is
// stored whole), and the list apart, when there is one.
struct StoredSpec {
  std::string spec;
  std::optional<std::string> listed_devices;
};

StoredSpec StoredSpecOf(const StartJobRequest& spec) {
  if (!spec.target().has_devices()) return {spec.SerializeAsString(), std::nullopt};
  // A copy, once per job.
  StartJobRequest rest = spec;
  rest.mutable_target()->mutable_devices()->clear_device_ids();
  return {rest.SerializeAsString(), spec.target().devices().SerializeAsString()};
}

// `job` as its row's `job` column holds it: without its spec.
std::string StatusBlobOf(const Job& job) {
  return job.has_spec() ? JobWithoutSpec(job).SerializeAsString() : job.SerializeAsString();
}

// `change` as its history row holds it: its job without its spec (a change
// from a replica of before this layout may carry it).
std::string ChangeBlobOf(const WatchJobResponse& change) {
  if (!change.job().has_spec()) return change.SerializeAsString();
  WatchJobResponse lean;
  lean.set_sequence(change.sequence());
  *lean.mutable_job() = JobWithoutSpec(change.job());
  if (change.has_outcome()) *lean.mutable_outcome() = change.outcome();
  return lean.SerializeAsString();
}

// A page token: the last job's creation time and id, "<nanos>:<job id>".
std::string TokenOf(const Job& job) { return absl::StrCat(CreatedNanos(job), ":", job.job_id()); }

absl::StatusOr<std::pair<int64_t, std::string>> ParseToken(const std::string& token) {
  std::pair<std::string, std::string> parts = absl::StrSplit(token, absl::MaxSplits(':', 1));
  int64_t nanos = 0;
  if (parts.second.empty() || !absl::SimpleAtoi(parts.first, &nanos)) {
    return absl::InvalidArgumentError("page_token: not a token ListJobs returned");
  }
  return std::make_pair(nanos, parts.second);
}

}  // namespace

bool JobEnded(JobState state) {
  return state == hive::bridge::v1::JOB_STATE_COMPLETED || state == hive::bridge::v1::JOB_STATE_ABORTED ||
         state == hive::bridge::v1::JOB_STATE_CANCELLED;
}

// The prepared statements, by what they do (Statements::kSql's order).
struct JobStore::Statements {
  enum Name {
    kInsertJob,
    kGetJob,
    kUpdateJob,
    kAdvanceJob,
    kInsertMember,
    kSetMember,
    kMembers,
    kInsertChange,
    kHistory,
    kLastSequence,
    kListFirst,
    kListAfter,
    kUnfinished,
    kEnded,
  };
  static constexpr const char* kSql[] = {
      "INSERT INTO jobs (job_id,created_at,state,next_index,job,spec,listed_devices) VALUES (?1,?2,?3,0,?4,?5,?6)",
      "SELECT job_id, job, spec, listed_devices FROM jobs WHERE job_id = ?1",
      "UPDATE jobs SET state = ?2, job = ?3, ended_at = ?4 WHERE job_id = ?1",
      "UPDATE jobs SET state = ?2, job = ?3, ended_at = ?4, next_index = ?5 WHERE job_id = ?1",
      "INSERT INTO job_devices (job_id, idx, device_id, status) VALUES (?1, ?2, ?3, 0)",
      "UPDATE job_devices SET status = ?3 WHERE job_id = ?1 AND idx = ?2",
      "SELECT device_id, status FROM job_devices WHERE job_id = ?1 ORDER BY idx",
      "INSERT INTO job_history (job_id, seq, change) VALUES (?1, ?2, ?3)",
      "SELECT change FROM job_history WHERE job_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
      "SELECT COALESCE(MAX(seq), 0) FROM job_history WHERE job_id = ?1",
      "SELECT job_id, job, spec FROM jobs ORDER BY created_at DESC, job_id DESC",
      "SELECT job_id, job, spec FROM jobs WHERE (created_at, job_id) < (?1, ?2) ORDER BY created_at DESC, job_id DESC",
      "SELECT job_id, job, spec, next_index FROM jobs WHERE ended_at IS NULL ORDER BY created_at",
      "SELECT job_id FROM jobs WHERE ended_at IS NOT NULL AND ended_at < ?1",
  };

  SqliteStatement& operator[](Name name) { return all[name]; }

  std::vector<SqliteStatement> all;
};

JobStore::JobStore(std::unique_ptr<SqliteDb> db, const Clock& clock) : clock_(clock), db_(std::move(db)) {}

JobStore::~JobStore() = default;

absl::StatusOr<std::unique_ptr<JobStore>> JobStore::Open(const std::string& path, const Clock& clock) {
  absl::StatusOr<std::unique_ptr<SqliteDb>> db = SqliteDb::Open(path, SqliteDb::Durability::kNormal);
  if (!db.ok()) return db.status();
  std::unique_ptr<JobStore> store(new JobStore(*std::move(db), clock));
  HIVE_RETURN_IF_ERROR(store->Prepare());
  return store;
}

absl::Status JobStore::Prepare() {
  absl::MutexLock lock(&mu_);
  HIVE_RETURN_IF_ERROR(db_->Exec(kSchema));
  HIVE_RETURN_IF_ERROR(MigrateSpecsLocked());
  statements_ = std::make_unique<Statements>();
  for (const char* sql : Statements::kSql) {
    absl::StatusOr<SqliteStatement> statement = db_->Prepare(sql);
    if (!statement.ok()) return statement.status();
    statements_->all.push_back(*std::move(statement));
  }
  return absl::OkStatus();
}

absl::Status JobStore::MigrateSpecsLocked() {
  // A database of before the spec columns: CREATE TABLE IF NOT EXISTS left
  // its jobs table as it was.
  absl::StatusOr<SqliteStatement> columns = db_->Prepare("SELECT name FROM pragma_table_info('jobs')");
  if (!columns.ok()) return columns.status();
  bool has_spec = false;
  bool has_listed = false;
  while (true) {
    absl::StatusOr<bool> row = columns->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const std::string name = columns->ColumnText(0);
    has_spec = has_spec || name == "spec";
    has_listed = has_listed || name == "listed_devices";
  }
  if (!has_spec) HIVE_RETURN_IF_ERROR(db_->Exec("ALTER TABLE jobs ADD COLUMN spec BLOB"));
  if (!has_listed) HIVE_RETURN_IF_ERROR(db_->Exec("ALTER TABLE jobs ADD COLUMN listed_devices BLOB"));
  // Rows written before hold the whole Job in `job`: move their spec out
  // once, so that the updates (which write the job without its spec) keep
  // it. Their history rows keep their specs; readers ignore them.
  absl::StatusOr<SqliteStatement> old = db_->Prepare("SELECT job_id, job FROM jobs WHERE spec IS NULL");
  if (!old.ok()) return old.status();
  std::vector<Job> jobs;
  while (true) {
    absl::StatusOr<bool> row = old->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    if (!jobs.emplace_back().ParseFromString(old->ColumnBlob(1))) {
      return absl::DataLossError(absl::StrCat("job ", old->ColumnText(0), ": unreadable"));
    }
  }
  if (jobs.empty()) return absl::OkStatus();
  absl::StatusOr<SqliteTransaction> tx = SqliteTransaction::Begin(*db_);
  if (!tx.ok()) return tx.status();
  absl::StatusOr<SqliteStatement> update =
      db_->Prepare("UPDATE jobs SET job = ?2, spec = ?3, listed_devices = ?4 WHERE job_id = ?1");
  if (!update.ok()) return update.status();
  for (const Job& job : jobs) {
    const StoredSpec spec = StoredSpecOf(job.spec());
    update->Reset();
    update->BindText(1, job.job_id());
    update->BindBlob(2, StatusBlobOf(job));
    update->BindBlob(3, spec.spec);
    if (spec.listed_devices.has_value()) {
      update->BindBlob(4, *spec.listed_devices);
    } else {
      update->BindNull(4);
    }
    HIVE_RETURN_IF_ERROR(update->Run());
  }
  return tx->Commit();
}

absl::StatusOr<JobStore::Created> JobStore::Create(const Job& job, const std::vector<std::string>& device_ids) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::optional<Job>> existing = GetLocked(job.job_id());
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) return Created{**std::move(existing), false};
  absl::StatusOr<SqliteTransaction> tx = SqliteTransaction::Begin(*db_);
  if (!tx.ok()) return tx.status();
  SqliteStatement& insert = (*statements_)[Statements::kInsertJob];
  insert.Reset();
  insert.BindText(1, job.job_id());
  insert.BindInt64(2, CreatedNanos(job));
  insert.BindInt64(3, job.state());
  insert.BindBlob(4, StatusBlobOf(job));
  const StoredSpec spec = StoredSpecOf(job.spec());
  insert.BindBlob(5, spec.spec);
  if (spec.listed_devices.has_value()) {
    insert.BindBlob(6, *spec.listed_devices);
  } else {
    insert.BindNull(6);
  }
  HIVE_RETURN_IF_ERROR(insert.Run());
  HIVE_RETURN_IF_ERROR(InsertMembersLocked(job.job_id(), 0, device_ids));
  HIVE_RETURN_IF_ERROR(tx->Commit());
  return Created{job, true};
}

absl::Status JobStore::InsertMembersLocked(const std::string& job_id, size_t first_index,
                                           const std::vector<std::string>& device_ids) {
  SqliteStatement& insert = (*statements_)[Statements::kInsertMember];
  for (size_t i = 0; i < device_ids.size(); ++i) {
    insert.Reset();
    insert.BindText(1, job_id);
    insert.BindInt64(2, static_cast<int64_t>(first_index + i));
    insert.BindText(3, device_ids[i]);
    HIVE_RETURN_IF_ERROR(insert.Run());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Job>> JobStore::Get(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  return GetLocked(job_id);
}

absl::StatusOr<std::optional<Job>> JobStore::GetLocked(const std::string& job_id) {
  SqliteStatement& get = (*statements_)[Statements::kGetJob];
  get.Reset();
  get.BindText(1, job_id);
  absl::StatusOr<bool> row = get.Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Job>();
  absl::StatusOr<Job> job = JobFrom(get, 1, 2, 3);
  // Not stepped to its end: reset, or the statement would keep its read
  // snapshot and this connection's next write would fail "database is
  // locked" (SQLITE_BUSY_SNAPSHOT, which busy_timeout does not wait out).
  get.Reset();
  if (!job.ok()) return job.status();
  return std::optional<Job>(*std::move(job));
}

absl::Status JobStore::Join(const Job& job, size_t first_index, const std::vector<std::string>& device_ids) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<SqliteTransaction> tx = SqliteTransaction::Begin(*db_);
  if (!tx.ok()) return tx.status();
  HIVE_RETURN_IF_ERROR(InsertMembersLocked(job.job_id(), first_index, device_ids));
  HIVE_RETURN_IF_ERROR(UpdateLocked(job, std::nullopt));
  return tx->Commit();
}

absl::Status JobStore::Advance(const Job& job, size_t next_index) {
  absl::MutexLock lock(&mu_);
  return UpdateLocked(job, next_index);
}

absl::Status JobStore::UpdateLocked(const Job& job, std::optional<size_t> next_index) {
  SqliteStatement& update =
      next_index.has_value() ? (*statements_)[Statements::kAdvanceJob] : (*statements_)[Statements::kUpdateJob];
  update.Reset();
  update.BindText(1, job.job_id());
  update.BindInt64(2, job.state());
  update.BindBlob(3, StatusBlobOf(job));
  if (job.has_ended_at()) {
    update.BindInt64(4, TimeUtil::TimestampToNanoseconds(job.ended_at()));
  } else {
    update.BindNull(4);
  }
  if (next_index.has_value()) update.BindInt64(5, static_cast<int64_t>(*next_index));
  return update.Run();
}

absl::Status JobStore::Record(const Job& job, std::optional<size_t> index, RequestStatus status,
                              const WatchJobResponse& change) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<SqliteTransaction> tx = SqliteTransaction::Begin(*db_);
  if (!tx.ok()) return tx.status();
  if (index.has_value()) {
    SqliteStatement& set = (*statements_)[Statements::kSetMember];
    set.Reset();
    set.BindText(1, job.job_id());
    set.BindInt64(2, static_cast<int64_t>(*index));
    set.BindInt64(3, status);
    HIVE_RETURN_IF_ERROR(set.Run());
  }
  SqliteStatement& insert = (*statements_)[Statements::kInsertChange];
  insert.Reset();
  insert.BindText(1, job.job_id());
  insert.BindInt64(2, static_cast<int64_t>(change.sequence()));
  insert.BindBlob(3, ChangeBlobOf(change));
  HIVE_RETURN_IF_ERROR(insert.Run());
  HIVE_RETURN_IF_ERROR(UpdateLocked(job, std::nullopt));
  return tx->Commit();
}

absl::StatusOr<std::vector<WatchJobResponse>> JobStore::History(const std::string& job_id, uint64_t after,
                                                                size_t limit) {
  absl::MutexLock lock(&mu_);
  SqliteStatement& history = (*statements_)[Statements::kHistory];
  history.Reset();
  history.BindText(1, job_id);
  history.BindInt64(2, static_cast<int64_t>(after));
  history.BindInt64(3, static_cast<int64_t>(limit));
  std::vector<WatchJobResponse> changes;
  while (true) {
    absl::StatusOr<bool> row = history.Step();
    if (!row.ok()) return row.status();
    if (!*row) return changes;
    if (!changes.emplace_back().ParseFromString(history.ColumnBlob(0))) {
      return absl::DataLossError(absl::StrCat("job ", job_id, ": unreadable history"));
    }
    // A row written before the spec moved out of the changes carries it.
    changes.back().mutable_job()->clear_spec();
  }
}

absl::StatusOr<JobStore::Page> JobStore::List(const std::string& after, size_t limit,
                                              const std::function<bool(const Job&)>& keep) {
  if (limit == 0) return absl::InvalidArgumentError("a page of 0 jobs");
  absl::MutexLock lock(&mu_);
  SqliteStatement& list =
      after.empty() ? (*statements_)[Statements::kListFirst] : (*statements_)[Statements::kListAfter];
  list.Reset();
  if (!after.empty()) {
    absl::StatusOr<std::pair<int64_t, std::string>> token = ParseToken(after);
    if (!token.ok()) return token.status();
    list.BindInt64(1, token->first);
    list.BindText(2, token->second);
  }
  Page page;
  while (true) {
    absl::StatusOr<bool> row = list.Step();
    if (!row.ok()) return row.status();
    if (!*row) return page;
    absl::StatusOr<Job> job = JobFrom(list, 1, 2);
    if (!job.ok()) return job.status();
    if (!keep(*job)) continue;
    if (page.jobs.size() == limit) {  // one more exists: this page is full
      page.next_page_token = TokenOf(page.jobs.back());
      list.Reset();  // see GetLocked
      return page;
    }
    page.jobs.push_back(*std::move(job));
  }
}

absl::StatusOr<std::vector<JobStore::Unfinished>> JobStore::LoadUnfinished() {
  absl::MutexLock lock(&mu_);
  std::vector<Unfinished> jobs;
  SqliteStatement& unfinished = (*statements_)[Statements::kUnfinished];
  unfinished.Reset();
  while (true) {
    absl::StatusOr<bool> row = unfinished.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    absl::StatusOr<Job> job = JobFrom(unfinished, 1, 2);
    if (!job.ok()) return job.status();
    jobs.push_back({*std::move(job), static_cast<size_t>(unfinished.ColumnInt64(3)), {}, 0});
  }
  for (Unfinished& job : jobs) {
    SqliteStatement& members = (*statements_)[Statements::kMembers];
    members.Reset();
    members.BindText(1, job.job.job_id());
    while (true) {
      absl::StatusOr<bool> row = members.Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      job.members.push_back({members.ColumnText(0), static_cast<RequestStatus>(members.ColumnInt64(1))});
    }
    SqliteStatement& last = (*statements_)[Statements::kLastSequence];
    last.Reset();
    last.BindText(1, job.job.job_id());
    absl::StatusOr<bool> row = last.Step();
    if (!row.ok()) return row.status();
    job.last_sequence = static_cast<uint64_t>(last.ColumnInt64(0));
    last.Reset();  // see GetLocked
  }
  return jobs;
}

absl::StatusOr<std::optional<JobStore::Unfinished>> JobStore::LoadUnfinished(const std::string& job_id) {
  // Few jobs are unfinished at once (--max-active-jobs): reading them all is
  // simpler than a second set of statements.
  absl::StatusOr<std::vector<Unfinished>> all = LoadUnfinished();
  if (!all.ok()) return all.status();
  for (Unfinished& job : *all) {
    if (job.job.job_id() == job_id) return std::optional<Unfinished>(std::move(job));
  }
  return std::optional<Unfinished>();
}

absl::StatusOr<size_t> JobStore::DeleteEnded(absl::Duration retention) {
  absl::MutexLock lock(&mu_);
  SqliteStatement& ended = (*statements_)[Statements::kEnded];
  ended.Reset();
  ended.BindInt64(1, absl::ToUnixNanos(clock_.Now() - retention));
  std::vector<std::string> ids;
  while (true) {
    absl::StatusOr<bool> row = ended.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    ids.push_back(ended.ColumnText(0));
  }
  if (ids.empty()) return 0;
  absl::StatusOr<SqliteTransaction> tx = SqliteTransaction::Begin(*db_);
  if (!tx.ok()) return tx.status();
  for (const char* table : {"jobs", "job_devices", "job_history"}) {
    absl::StatusOr<SqliteStatement> remove = db_->Prepare(absl::StrCat("DELETE FROM ", table, " WHERE job_id = ?1"));
    if (!remove.ok()) return remove.status();
    for (const std::string& id : ids) {
      remove->Reset();
      remove->BindText(1, id);
      HIVE_RETURN_IF_ERROR(remove->Run());
    }
  }
  HIVE_RETURN_IF_ERROR(tx->Commit());
  return ids.size();
}

}  // namespace hive

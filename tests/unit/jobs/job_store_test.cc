#include "bridge/jobs/job_store.h"

#include <filesystem>
#include <memory>
#include <string>

#include "bridge/jobs/job_status.h"
#include "bridge/state/sqlite_db.h"
#include "bridge/uuid.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/unit/support/fake_clock.h"

namespace hive {
namespace {

using google::protobuf::util::TimeUtil;
using hive::bridge::v1::JOB_STATE_ABORTED;
using hive::bridge::v1::JOB_STATE_COMPLETED;
using hive::bridge::v1::JOB_STATE_PAUSED;
using hive::bridge::v1::JOB_STATE_RUNNING;
using hive::bridge::v1::REQUEST_STATUS_ACKED;
using hive::bridge::v1::REQUEST_STATUS_UNSPECIFIED;
using ::testing::ElementsAre;

bool All(const Job&) { return true; }

class JobStoreTest : public ::testing::Test {
 protected:
  JobStoreTest() { std::filesystem::create_directories(dir_); }

 public:
  ~JobStoreTest() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

 protected:
  JobStore& Open() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<JobStore>> store = JobStore::Open(StateDbPath(dir_), clock_);
    EXPECT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    return *store_;
  }

  Job NewJob(JobState state = JOB_STATE_RUNNING) {
    Job job;
    job.set_job_id(NewUuid());
    job.set_state(state);
    *job.mutable_created_at() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock_.Now()));
    job.mutable_spec()->set_description("restart the fleet");
    clock_.Advance(absl::Seconds(1));
    return job;
  }

  static std::vector<std::string> IdsOf(const std::vector<Job>& jobs) {
    std::vector<std::string> ids;
    ids.reserve(jobs.size());
    for (const Job& job : jobs) ids.push_back(job.job_id());
    return ids;
  }

  // Job `job`'s explicit device list: `count` ids.
  static void ListDevices(Job& job, size_t count) {
    hive::bridge::v1::JobDeviceList& list = *job.mutable_spec()->mutable_target()->mutable_devices();
    for (size_t i = 0; i < count; ++i) list.add_device_ids(NewUuid());
  }

  // One number from the database, through a connection of its own.
  int64_t Query(const std::string& sql, const std::string& job_id) {
    absl::StatusOr<std::unique_ptr<SqliteDb>> db = SqliteDb::Open(StateDbPath(dir_), SqliteDb::Durability::kNormal);
    EXPECT_TRUE(db.ok()) << db.status();
    absl::StatusOr<SqliteStatement> query = (*db)->Prepare(sql);
    EXPECT_TRUE(query.ok()) << query.status();
    query->BindText(1, job_id);
    absl::StatusOr<bool> row = query->Step();
    EXPECT_TRUE(row.ok() && *row) << sql;
    const int64_t value = query->ColumnInt64(0);
    query->Reset();
    return value;
  }

  const std::string dir_ = ::testing::TempDir() + "/job-store-" + NewUuid();
  testing::FakeClock clock_;
  std::unique_ptr<JobStore> store_;
};

TEST_F(JobStoreTest, CreateIsIdempotentByJobId) {
  JobStore& store = Open();
  const Job job = NewJob();
  absl::StatusOr<JobStore::Created> first = store.Create(job, {"a", "b"});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->inserted);
  Job again = job;
  again.mutable_spec()->set_description("something else");
  absl::StatusOr<JobStore::Created> second = store.Create(again, {"c"});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->inserted);
  EXPECT_EQ(second->job.spec().description(), "restart the fleet");
}

TEST_F(JobStoreTest, AnUnfinishedJobComesBackWithItsSelectionCursorAndHistory) {
  Job job = NewJob();
  {
    JobStore& store = Open();
    ASSERT_TRUE(store.Create(job, {"d1", "d2", "d3"}).ok());
    job.mutable_counters()->set_in_flight(2);
    ASSERT_TRUE(store.Advance(job, 2).ok());
    WatchJobResponse change;
    change.set_sequence(1);
    change.mutable_outcome()->set_device_id("d1");
    ASSERT_TRUE(store.Record(job, 0, REQUEST_STATUS_ACKED, change).ok());
    ASSERT_TRUE(store.Join(job, 3, {"d4"}).ok());
  }
  absl::StatusOr<std::vector<JobStore::Unfinished>> unfinished = Open().LoadUnfinished();
  ASSERT_TRUE(unfinished.ok()) << unfinished.status();
  ASSERT_EQ(unfinished->size(), 1u);
  const JobStore::Unfinished& loaded = unfinished->front();
  EXPECT_EQ(loaded.job.job_id(), job.job_id());
  EXPECT_EQ(loaded.job.counters().in_flight(), 2);
  EXPECT_EQ(loaded.next_index, 2u);
  EXPECT_EQ(loaded.last_sequence, 1u);
  ASSERT_EQ(loaded.members.size(), 4u);
  EXPECT_EQ(loaded.members[0].device_id, "d1");
  EXPECT_EQ(loaded.members[0].status, REQUEST_STATUS_ACKED);
  EXPECT_EQ(loaded.members[1].status, REQUEST_STATUS_UNSPECIFIED);
  EXPECT_EQ(loaded.members[3].device_id, "d4");
}

TEST_F(JobStoreTest, HistoryReplaysAfterASequence) {
  JobStore& store = Open();
  const Job job = NewJob();
  ASSERT_TRUE(store.Create(job, {"d1", "d2", "d3"}).ok());
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    WatchJobResponse change;
    change.set_sequence(seq);
    ASSERT_TRUE(store.Record(job, seq - 1, REQUEST_STATUS_ACKED, change).ok());
  }
  absl::StatusOr<std::vector<WatchJobResponse>> after = store.History(job.job_id(), 1, 10);
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ((*after)[0].sequence(), 2u);
  EXPECT_EQ((*after)[1].sequence(), 3u);
  EXPECT_EQ(store.History(job.job_id(), 0, 1)->size(), 1u);
}

TEST_F(JobStoreTest, ListsNewestFirstInPagesAndByState) {
  JobStore& store = Open();
  const Job oldest = NewJob(JOB_STATE_COMPLETED);
  const Job middle = NewJob(JOB_STATE_RUNNING);
  const Job newest = NewJob(JOB_STATE_PAUSED);
  for (const Job& job : {oldest, middle, newest}) ASSERT_TRUE(store.Create(job, {}).ok());

  absl::StatusOr<JobStore::Page> first = store.List("", 2, All);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(IdsOf(first->jobs), ElementsAre(newest.job_id(), middle.job_id()));
  ASSERT_FALSE(first->next_page_token.empty());
  absl::StatusOr<JobStore::Page> second = store.List(first->next_page_token, 2, All);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT(IdsOf(second->jobs), ElementsAre(oldest.job_id()));
  EXPECT_TRUE(second->next_page_token.empty());

  absl::StatusOr<JobStore::Page> running =
      store.List("", 1, [](const Job& job) { return job.state() != JOB_STATE_COMPLETED; });
  ASSERT_TRUE(running.ok());
  EXPECT_THAT(IdsOf(running->jobs), ElementsAre(newest.job_id()));
  absl::StatusOr<JobStore::Page> rest =
      store.List(running->next_page_token, 1, [](const Job& job) { return job.state() != JOB_STATE_COMPLETED; });
  ASSERT_TRUE(rest.ok());
  EXPECT_THAT(IdsOf(rest->jobs), ElementsAre(middle.job_id()));
  EXPECT_TRUE(rest->next_page_token.empty()) << "the completed job is not kept: no page after";

  EXPECT_EQ(store.List("not-a-token", 2, All).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(JobStoreTest, EndedJobsAreNotResumedAndAreDeletedAfterTheirRetention) {
  JobStore& store = Open();
  Job job = NewJob();
  ASSERT_TRUE(store.Create(job, {"d1"}).ok());
  job.set_state(JOB_STATE_ABORTED);
  *job.mutable_ended_at() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock_.Now()));
  ASSERT_TRUE(store.Advance(job, 1).ok());
  EXPECT_TRUE(store.LoadUnfinished()->empty());

  EXPECT_EQ(*store.DeleteEnded(absl::Hours(1)), 0u);
  clock_.Advance(absl::Hours(2));
  EXPECT_EQ(*store.DeleteEnded(absl::Hours(1)), 1u);
  EXPECT_FALSE(store.Get(job.job_id())->has_value());
  EXPECT_TRUE(store.History(job.job_id(), 0, 10)->empty());
}

// The twins, the queue and the jobs share one database file, each on its own
// connection: a read must not leave a snapshot open that makes this
// connection's next write fail once another connection has written.
TEST_F(JobStoreTest, AReadLeavesNoSnapshotThatBlocksTheNextWrite) {
  JobStore& store = Open();
  Job job = NewJob();
  ASSERT_TRUE(store.Create(job, {"d1"}).ok());
  ASSERT_TRUE(store.Create(NewJob(), {"d1"}).ok());
  ASSERT_TRUE(store.Get(job.job_id())->has_value());
  ASSERT_TRUE(store.LoadUnfinished().ok());
  ASSERT_FALSE(store.List("", 1, All)->next_page_token.empty());
  absl::StatusOr<std::unique_ptr<JobStore>> other = JobStore::Open(StateDbPath(dir_), clock_);
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_TRUE((*other)->Create(NewJob(), {"d2"}).ok());
  job.mutable_counters()->set_in_flight(1);
  EXPECT_TRUE(store.Advance(job, 1).ok()) << store.Advance(job, 1);
}

TEST_F(JobStoreTest, AnExplicitListIsStoredOnceAndNotWithEveryChange) {
  JobStore& store = Open();
  Job job = NewJob();
  ListDevices(job, 10000);
  const std::vector<std::string> ids(job.spec().target().devices().device_ids().begin(),
                                     job.spec().target().devices().device_ids().end());
  ASSERT_TRUE(store.Create(job, ids).ok());
  Job status = JobWithoutSpec(job);
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    status.mutable_counters()->set_succeeded(static_cast<int64_t>(seq));
    WatchJobResponse change;
    change.set_sequence(seq);
    change.mutable_outcome()->set_device_id(ids[seq - 1]);
    // The runner's changes carry the job without its spec; one from a
    // replica of before carries it whole: neither is stored with it.
    *change.mutable_job() = seq == 3 ? job : status;
    ASSERT_TRUE(store.Record(seq == 3 ? job : status, seq - 1, REQUEST_STATUS_ACKED, change).ok());
    ASSERT_TRUE(store.Advance(status, seq).ok());
  }
  // The ids are ~370 KB; a change and the job's row stay the size of the
  // counters and the outcome.
  EXPECT_LT(Query("SELECT MAX(length(change)) FROM job_history WHERE job_id = ?1", job.job_id()), 300);
  EXPECT_LT(Query("SELECT length(job) FROM jobs WHERE job_id = ?1", job.job_id()), 300);
  EXPECT_LT(Query("SELECT length(spec) FROM jobs WHERE job_id = ?1", job.job_id()), 300);
  EXPECT_GT(Query("SELECT length(listed_devices) FROM jobs WHERE job_id = ?1", job.job_id()), 370000);

  absl::StatusOr<std::vector<WatchJobResponse>> history = store.History(job.job_id(), 0, 10);
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_EQ(history->size(), 3u);
  for (const WatchJobResponse& change : *history) {
    EXPECT_FALSE(change.job().has_spec());
    EXPECT_EQ(change.job().job_id(), job.job_id());
  }
  EXPECT_EQ((*history)[1].job().counters().succeeded(), 2);

  // GetJob has the whole spec and the last status.
  absl::StatusOr<std::optional<Job>> got = store.Get(job.job_id());
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->spec().target().devices().device_ids_size(), 10000);
  EXPECT_EQ((*got)->spec().description(), "restart the fleet");
  EXPECT_EQ((*got)->counters().succeeded(), 3);
  Job expected = job;
  *expected.mutable_counters() = (*got)->counters();
  EXPECT_EQ((*got)->SerializeAsString(), expected.SerializeAsString());

  // A page lists the spec without the list; a resumed job needs none.
  absl::StatusOr<JobStore::Page> page = store.List("", 10, All);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->jobs.size(), 1u);
  EXPECT_TRUE(page->jobs[0].spec().target().has_devices());
  EXPECT_EQ(page->jobs[0].spec().target().devices().device_ids_size(), 0);
  EXPECT_EQ(page->jobs[0].spec().description(), "restart the fleet");
  EXPECT_EQ(page->jobs[0].counters().succeeded(), 3);
  absl::StatusOr<std::vector<JobStore::Unfinished>> unfinished = store.LoadUnfinished();
  ASSERT_TRUE(unfinished.ok()) << unfinished.status();
  ASSERT_EQ(unfinished->size(), 1u);
  EXPECT_EQ(unfinished->front().job.spec().description(), "restart the fleet");
  EXPECT_EQ(unfinished->front().members.size(), 10000u);
  EXPECT_EQ(unfinished->front().next_index, 3u);
}

TEST_F(JobStoreTest, ASelectorsSpecIsStoredWhole) {
  JobStore& store = Open();
  Job job = NewJob();
  job.mutable_spec()->mutable_target()->mutable_selector()->set_version("1.2.3");
  ASSERT_TRUE(store.Create(job, {"d1"}).ok());
  ASSERT_TRUE(store.Advance(JobWithoutSpec(job), 1).ok());
  absl::StatusOr<std::optional<Job>> got = store.Get(job.job_id());
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->SerializeAsString(), job.SerializeAsString());
  EXPECT_EQ(store.List("", 10, All)->jobs[0].spec().target().selector().version(), "1.2.3");
}

// A state dir written before the spec had columns of its own: the whole Job
// in `job`, and in each history row.
TEST_F(JobStoreTest, ADatabaseOfTheOldLayoutOpensAndReadsAsBefore) {
  Job job = NewJob();
  ListDevices(job, 3);
  job.mutable_counters()->set_selected(3);
  WatchJobResponse change;
  change.set_sequence(1);
  *change.mutable_job() = job;
  Job ended = NewJob(JOB_STATE_COMPLETED);
  *ended.mutable_ended_at() = ended.created_at();
  {
    absl::StatusOr<std::unique_ptr<SqliteDb>> db = SqliteDb::Open(StateDbPath(dir_), SqliteDb::Durability::kNormal);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)
                    ->Exec(R"sql(
CREATE TABLE IF NOT EXISTS jobs (
  job_id     TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  state      INTEGER NOT NULL,
  next_index INTEGER NOT NULL,
  job        BLOB NOT NULL,
  ended_at   INTEGER
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
)sql")
                    .ok());
    for (const Job* old : {&job, &ended}) {
      absl::StatusOr<SqliteStatement> insert = (*db)->Prepare(
          "INSERT INTO jobs (job_id, created_at, state, next_index, job, ended_at) VALUES (?1, ?2, ?3, 1, ?4, ?5)");
      ASSERT_TRUE(insert.ok()) << insert.status();
      insert->BindText(1, old->job_id());
      insert->BindInt64(2, TimeUtil::TimestampToNanoseconds(old->created_at()));
      insert->BindInt64(3, old->state());
      insert->BindBlob(4, old->SerializeAsString());
      if (old->has_ended_at()) {
        insert->BindInt64(5, TimeUtil::TimestampToNanoseconds(old->ended_at()));
      } else {
        insert->BindNull(5);
      }
      ASSERT_TRUE(insert->Run().ok());
    }
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<SqliteStatement> member =
          (*db)->Prepare("INSERT INTO job_devices (job_id, idx, device_id, status) VALUES (?1, ?2, ?3, 0)");
      ASSERT_TRUE(member.ok()) << member.status();
      member->BindText(1, job.job_id());
      member->BindInt64(2, i);
      member->BindText(3, job.spec().target().devices().device_ids(i));
      ASSERT_TRUE(member->Run().ok());
    }
    absl::StatusOr<SqliteStatement> history =
        (*db)->Prepare("INSERT INTO job_history (job_id, seq, change) VALUES (?1, 1, ?2)");
    ASSERT_TRUE(history.ok()) << history.status();
    history->BindText(1, job.job_id());
    history->BindBlob(2, change.SerializeAsString());
    ASSERT_TRUE(history->Run().ok());
  }

  JobStore& store = Open();
  absl::StatusOr<std::optional<Job>> got = store.Get(job.job_id());
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status();
  EXPECT_EQ((*got)->SerializeAsString(), job.SerializeAsString());
  EXPECT_EQ((*store.Get(ended.job_id()))->SerializeAsString(), ended.SerializeAsString());
  absl::StatusOr<std::vector<WatchJobResponse>> history = store.History(job.job_id(), 0, 10);
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_EQ(history->size(), 1u);
  EXPECT_FALSE((*history)[0].job().has_spec());
  EXPECT_EQ((*history)[0].job().counters().selected(), 3);
  absl::StatusOr<JobStore::Page> page = store.List("", 10, All);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->jobs.size(), 2u);
  EXPECT_EQ(page->jobs[1].spec().description(), "restart the fleet");
  EXPECT_EQ(page->jobs[1].spec().target().devices().device_ids_size(), 0);
  absl::StatusOr<std::vector<JobStore::Unfinished>> unfinished = store.LoadUnfinished();
  ASSERT_TRUE(unfinished.ok()) << unfinished.status();
  ASSERT_EQ(unfinished->size(), 1u);
  EXPECT_EQ(unfinished->front().members.size(), 3u);
  EXPECT_EQ(unfinished->front().next_index, 1u);

  // The resumed job's updates, without its spec, keep the one stored; and
  // the migrated database opens again.
  Job status = JobWithoutSpec(job);
  status.mutable_counters()->set_succeeded(1);
  ASSERT_TRUE(store.Advance(status, 2).ok());
  got = Open().Get(job.job_id());
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status();
  EXPECT_EQ((*got)->spec().SerializeAsString(), job.spec().SerializeAsString());
  EXPECT_EQ((*got)->counters().succeeded(), 1);
}

}  // namespace
}  // namespace hive

#include "bridge/jobs/job_store.h"

#include <filesystem>
#include <memory>
#include <string>

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
  ~JobStoreTest() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

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
    for (const Job& job : jobs) ids.push_back(job.job_id());
    return ids;
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
    ASSERT_TRUE(store.Append(job, 3, {"d4"}).ok());
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

}  // namespace
}  // namespace hive

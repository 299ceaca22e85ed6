// The JobEngine in cluster mode with two replicas' engines on one in-process
// jobs log (applied in order to both, as the broker's stream is): a job is
// the same on both, a takeover moves the driver and fences the former one,
// and a cancel on the replica not driving the job stops it at its holder.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "bridge/event_hub.h"
#include "bridge/jobs/job_engine.h"
#include "bridge/uuid.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/unit/support/fake_clock.h"

namespace hive {
namespace {

using google::protobuf::util::TimeUtil;
using hive::bridge::v1::RequestRecord;
using hive::bridge::v1::SendDeviceRequestRequest;

// The fleet's jobs log: every operation applied, in order, to every replica
// before Append returns. The test says which replicas the fleet has lost.
class InProcessJobLog final : public JobLog {
 public:
  void Attach(JobLogReader* reader) { readers_.push_back(reader); }

  bool AppendJobOp(const JobOp& op) override {
    absl::MutexLock lock(&mu_);
    ops_.push_back(op);
    for (JobLogReader* reader : readers_) reader->ApplyJobOp(op);
    return true;
  }
  bool ReplicaAlive(const std::string& replica) const override {
    absl::MutexLock lock(&mu_);
    return !gone_.contains(replica);
  }
  bool connected() const override { return true; }

  void Gone(const std::string& replica) {
    absl::MutexLock lock(&mu_);
    gone_.insert(replica);
  }
  std::vector<JobOp> ops() const {
    absl::MutexLock lock(&mu_);
    return ops_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<JobLogReader*> readers_;
  std::vector<JobOp> ops_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> gone_ ABSL_GUARDED_BY(mu_);
};

// The fleet's queue as jobs see it: one record per request id whoever sends
// it; connected devices' requests are SENT (done, for a job that waits for
// nothing), offline ones QUEUED.
class SharedQueue final : public JobSender {
 public:
  absl::StatusOr<Sent> Send(const SendDeviceRequestRequest& request, absl::Duration /*ttl*/) override {
    absl::MutexLock lock(&mu_);
    auto [it, inserted] = records_.try_emplace(request.request_id());
    if (inserted) {
      it->second.set_request_id(request.request_id());
      it->second.set_device_id(request.device_id());
      it->second.set_status(offline_ ? hive::bridge::v1::REQUEST_STATUS_QUEUED : hive::bridge::v1::REQUEST_STATUS_SENT);
    }
    return Sent{it->second, !offline_};
  }
  absl::StatusOr<RequestRecord> Cancel(const std::string& request_id) override {
    absl::MutexLock lock(&mu_);
    RequestRecord& record = records_.at(request_id);
    if (record.status() != hive::bridge::v1::REQUEST_STATUS_QUEUED) return absl::FailedPreconditionError("sent");
    record.set_status(hive::bridge::v1::REQUEST_STATUS_CANCELLED);
    return record;
  }
  absl::StatusOr<std::optional<RequestRecord>> Get(const std::string& request_id) override {
    absl::MutexLock lock(&mu_);
    auto it = records_.find(request_id);
    if (it == records_.end()) return std::optional<RequestRecord>();
    return std::optional<RequestRecord>(it->second);
  }

  void SetOffline(bool offline) {
    absl::MutexLock lock(&mu_);
    offline_ = offline;
  }
  std::map<std::string, RequestRecord> records() const {
    absl::MutexLock lock(&mu_);
    return records_;
  }

 private:
  mutable absl::Mutex mu_;
  bool offline_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, RequestRecord> records_ ABSL_GUARDED_BY(mu_);
};

// One replica: its view, its hub and its engine.
struct Replica {
  Replica(const std::string& id, InProcessJobLog& log, SharedQueue& queue, testing::FakeClock& clock)
      : store(*JobStore::Open(":memory:", clock)),
        hub(clock, {}, "epoch"),
        engine(*store, queue, hub, clock, {.log = &log, .replica = id}) {}
  std::unique_ptr<JobStore> store;
  EventHub hub;
  JobEngine engine;
};

bool Eventually(const std::function<bool()>& done, testing::FakeClock* clock = nullptr,
                absl::Duration step = absl::Milliseconds(100)) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    if (done()) return true;
    if (clock != nullptr) clock->Advance(step);
    absl::SleepFor(absl::Milliseconds(5));
  }
  return done();
}

class JobEngineClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = std::make_unique<Replica>("a", log_, queue_, clock_);
    b_ = std::make_unique<Replica>("b", log_, queue_, clock_);
    log_.Attach(&a_->engine);
    log_.Attach(&b_->engine);
    ASSERT_TRUE(a_->engine.Start().ok());
    ASSERT_TRUE(b_->engine.Start().ok());
    // Each appends its marker at its first tick and reads it back.
    ASSERT_TRUE(Eventually([&] { return a_->engine.caught_up() && b_->engine.caught_up(); }, &clock_));
  }

  void TearDown() override {
    a_->engine.Stop();
    b_->engine.Stop();
  }

  Job NewJob(double rate, int waits = hive::bridge::v1::WAIT_MODE_NONE) {
    Job job;
    job.set_job_id(NewUuid());
    job.set_state(hive::bridge::v1::JOB_STATE_RUNNING);
    *job.mutable_created_at() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock_.Now()));
    job.mutable_spec()->mutable_command()->mutable_scheduler_action()->set_action(
        hive::bridge::v1::SchedulerAction::ACTION_STOP);
    job.mutable_spec()->mutable_queue_ttl()->set_seconds(600);
    job.mutable_spec()->mutable_rollout()->set_max_rate(rate);
    job.mutable_spec()->set_wait(static_cast<hive::bridge::v1::WaitMode>(waits));
    return job;
  }

  std::vector<std::string> Devices(int count) {
    std::vector<std::string> ids;
    ids.reserve(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) ids.push_back(absl::StrFormat("00000000-0000-4000-8000-%012d", i));
    return ids;
  }

  Job Get(Replica& replica, const std::string& job_id) {
    absl::StatusOr<std::optional<Job>> job = replica.engine.Get(job_id);
    return job.ok() && job->has_value() ? **job : Job();
  }

  testing::FakeClock clock_;
  InProcessJobLog log_;
  SharedQueue queue_;
  std::unique_ptr<Replica> a_;
  std::unique_ptr<Replica> b_;
};

TEST_F(JobEngineClusterTest, AJobStartedOnOneReplicaIsDrivenThereAndTheSameOnTheOther) {
  const Job job = NewJob(/*rate=*/1000);
  absl::StatusOr<JobStore::Created> created = a_->engine.StartJob(job, Devices(5));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->inserted);
  EXPECT_EQ(created->job.replica(), "a");
  ASSERT_TRUE(Eventually([&] { return Get(*b_, job.job_id()).has_ended_at(); }, &clock_));
  const Job on_a = Get(*a_, job.job_id());
  const Job on_b = Get(*b_, job.job_id());
  EXPECT_EQ(on_b.state(), hive::bridge::v1::JOB_STATE_COMPLETED);
  EXPECT_EQ(on_b.counters().succeeded(), 5);
  EXPECT_EQ(on_a.counters().SerializeAsString(), on_b.counters().SerializeAsString());
  EXPECT_EQ(on_b.replica(), "a");
  absl::StatusOr<std::vector<WatchJobResponse>> history_a = a_->engine.History(job.job_id(), 0, 100);
  absl::StatusOr<std::vector<WatchJobResponse>> history_b = b_->engine.History(job.job_id(), 0, 100);
  ASSERT_TRUE(history_a.ok() && history_b.ok());
  ASSERT_EQ(history_a->size(), history_b->size());
  ASSERT_EQ(history_b->size(), 7u) << "the start, 5 outcomes and the end";
  for (size_t i = 0; i < history_a->size(); ++i) {
    EXPECT_EQ((*history_a)[i].SerializeAsString(), (*history_b)[i].SerializeAsString());
  }
  // The same StartJob through the other replica is that job.
  absl::StatusOr<JobStore::Created> retried = b_->engine.StartJob(job, Devices(5));
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_FALSE(retried->inserted);
  EXPECT_EQ(retried->job.state(), hive::bridge::v1::JOB_STATE_COMPLETED);
}

TEST_F(JobEngineClusterTest, WhenItsHolderIsGoneAnotherReplicaTakesTheJobOverAndTheFormerHoldersWritesCountNoMore) {
  // One device a second: the job is mid-way when "a" is lost, and still when
  // "b" takes it over (after its grace of 6 s).
  const Job job = NewJob(/*rate=*/1);
  ASSERT_TRUE(a_->engine.StartJob(job, Devices(30)).ok());
  ASSERT_TRUE(Eventually([&] { return queue_.records().size() >= 2; }, &clock_, absl::Milliseconds(500)));
  log_.Gone("a");
  // "b" waits until its directory could have heard everyone (6 s after it
  // caught up), then asks for term 2 and wins; "a" reads that and stops.
  ASSERT_TRUE(Eventually([&] { return Get(*b_, job.job_id()).replica() == "b"; }, &clock_, absl::Milliseconds(500)));
  ASSERT_TRUE(Eventually([&] { return Get(*b_, job.job_id()).has_ended_at(); }, &clock_, absl::Milliseconds(500)));
  const Job ended = Get(*b_, job.job_id());
  EXPECT_EQ(ended.state(), hive::bridge::v1::JOB_STATE_COMPLETED) << ended.DebugString();
  EXPECT_EQ(ended.counters().succeeded(), 30) << ended.DebugString();
  EXPECT_EQ(queue_.records().size(), 30u);
  EXPECT_TRUE(Eventually([&] { return a_->engine.active_jobs() == 0; })) << "a lost the lease: it drives it no more";
  // One lease taken, term 2, by b.
  int leases = 0;
  for (const JobOp& op : log_.ops()) {
    if (op.kind != JobOp::Kind::kLease) continue;
    ++leases;
    EXPECT_EQ(op.replica, "b");
    EXPECT_EQ(op.term, 2u);
  }
  EXPECT_EQ(leases, 1);
  // The history says who took over: a change of the job alone naming b.
  absl::StatusOr<std::vector<WatchJobResponse>> history = a_->engine.History(job.job_id(), 0, 100);
  ASSERT_TRUE(history.ok());
  std::set<std::string> drivers;
  for (const WatchJobResponse& change : *history) drivers.insert(change.job().replica());
  EXPECT_THAT(drivers, ::testing::ElementsAre("a", "b"));

  // A write of a's term 1 arriving now (a slow former holder) changes nothing.
  JobOp stale;
  stale.kind = JobOp::Kind::kRecord;
  stale.id = NewUuid();
  stale.replica = "a";
  stale.job_id = job.job_id();
  stale.term = 1;
  stale.change.set_sequence(history->back().sequence() + 1);
  *stale.change.mutable_job() = ended;
  stale.change.mutable_job()->set_state(hive::bridge::v1::JOB_STATE_ABORTED);
  log_.AppendJobOp(stale);
  EXPECT_EQ(Get(*a_, job.job_id()).state(), hive::bridge::v1::JOB_STATE_COMPLETED);
  EXPECT_EQ(Get(*b_, job.job_id()).state(), hive::bridge::v1::JOB_STATE_COMPLETED);
  absl::StatusOr<std::vector<WatchJobResponse>> after = b_->engine.History(job.job_id(), 0, 100);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), history->size());
}

TEST_F(JobEngineClusterTest, ACancelOnTheReplicaNotDrivingTheJobStopsItAtItsHolderBeforeItReturns) {
  queue_.SetOffline(true);
  const Job job = NewJob(/*rate=*/1000);
  ASSERT_TRUE(a_->engine.StartJob(job, Devices(4)).ok());
  ASSERT_TRUE(Eventually([&] { return Get(*b_, job.job_id()).counters().queued() == 4; }, &clock_));
  absl::StatusOr<Job> cancelled = b_->engine.Cancel(job.job_id(), "cancelled by test");
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->state(), hive::bridge::v1::JOB_STATE_CANCELLED);
  // When Cancel returned, the holder had cancelled every queued request.
  for (const auto& [id, record] : queue_.records()) {
    EXPECT_EQ(record.status(), hive::bridge::v1::REQUEST_STATUS_CANCELLED) << id;
  }
  ASSERT_TRUE(Eventually([&] { return Get(*b_, job.job_id()).has_ended_at(); }, &clock_));
  EXPECT_EQ(Get(*b_, job.job_id()).counters().skipped(), 4);
  EXPECT_EQ(Get(*b_, job.job_id()).end_reason(), "cancelled by test");
}

}  // namespace
}  // namespace hive

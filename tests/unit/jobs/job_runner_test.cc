#include "bridge/jobs/job_runner.h"

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/str_format.h"
#include "bridge/jobs/job_request_id.h"
#include "bridge/uuid.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/unit/support/fake_clock.h"

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
using hive::bridge::v1::WAIT_MODE_RESULT;

// The queue as a job sees it: connected devices' requests are SENT at once,
// offline ones QUEUED; every Send of an id is counted (the queue would
// store it once).
class FakeSender final : public JobSender {
 public:
  absl::StatusOr<Sent> Send(const SendDeviceRequestRequest& request, absl::Duration ttl) override {
    ++sends[request.device_id()];
    auto [it, inserted] = records.try_emplace(request.request_id());
    if (inserted) {
      it->second.set_request_id(request.request_id());
      it->second.set_device_id(request.device_id());
      it->second.set_status(offline.count(request.device_id()) > 0 ? hive::bridge::v1::REQUEST_STATUS_QUEUED
                                                                   : hive::bridge::v1::REQUEST_STATUS_SENT);
      last_ttl = ttl;
    }
    return Sent{it->second, offline.count(request.device_id()) == 0};
  }
  absl::StatusOr<RequestRecord> Cancel(const std::string& request_id) override {
    RequestRecord& record = records.at(request_id);
    if (record.status() != hive::bridge::v1::REQUEST_STATUS_QUEUED) {
      return absl::FailedPreconditionError("handed over");
    }
    record.set_status(hive::bridge::v1::REQUEST_STATUS_CANCELLED);
    return record;
  }
  absl::StatusOr<std::optional<RequestRecord>> Get(const std::string& request_id) override {
    auto it = records.find(request_id);
    if (it == records.end()) return std::optional<RequestRecord>();
    return std::optional<RequestRecord>(it->second);
  }

  std::set<std::string> offline;
  std::map<std::string, int> sends;
  std::map<std::string, RequestRecord> records;
  absl::Duration last_ttl;
};

class JobRunnerTest : public ::testing::Test {
 protected:
  JobRunnerTest() {
    std::filesystem::create_directories(dir_);
    store_ = *JobStore::Open(StateDbPath(dir_), clock_);
    for (int i = 0; i < 20; ++i) devices_.push_back(absl::StrFormat("00000000-0000-4000-8000-%012d", i));
    job_.set_job_id(NewUuid());
    job_.set_state(JOB_STATE_RUNNING);
    *job_.mutable_created_at() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock_.Now()));
    job_.mutable_spec()->mutable_command()->mutable_scheduler_action()->set_action(
        hive::bridge::v1::SchedulerAction::ACTION_STOP);
    job_.mutable_spec()->mutable_queue_ttl()->set_seconds(60);
    job_.mutable_spec()->mutable_rollout()->set_max_rate(10);
  }

 public:
  ~JobRunnerTest() override {
    runner_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

 protected:
  JobRunner& Start() {
    EXPECT_TRUE(store_->Create(job_, devices_).ok());
    absl::StatusOr<std::unique_ptr<JobRunner>> runner =
        JobRunner::Make({*store_, sender_, clock_, [this](const WatchJobResponse& c) { changes_.push_back(c); }},
                        {job_, 0, Members(), 0});
    EXPECT_TRUE(runner.ok()) << runner.status();
    runner_ = *std::move(runner);
    return *runner_;
  }

  std::vector<JobStore::Member> Members() const {
    std::vector<JobStore::Member> members;
    for (const std::string& id : devices_) members.push_back({id, hive::bridge::v1::REQUEST_STATUS_UNSPECIFIED});
    return members;
  }

  // The device answers the job's request with `status`.
  void Answer(JobRunner& runner, size_t device, hive::bridge::v1::RequestStatus status) {
    const std::string request_id = JobRequestId(job_.job_id(), devices_[device]);
    sender_.records[request_id].set_status(status);
    ASSERT_TRUE(runner.OnOutcome(request_id, status, ""));
  }

  int TotalSends() const {
    int total = 0;
    for (const auto& [device, count] : sender_.sends) total += count;
    return total;
  }

  const std::string dir_ = ::testing::TempDir() + "/job-runner-" + NewUuid();
  testing::FakeClock clock_;
  std::unique_ptr<JobStore> store_;
  FakeSender sender_;
  std::vector<std::string> devices_;
  Job job_;
  std::unique_ptr<JobRunner> runner_;
  std::vector<WatchJobResponse> changes_;
};

TEST_F(JobRunnerTest, SendsAtMostTheRateAndCompletesWhenEveryDeviceIsDone) {
  JobRunner& runner = Start();
  runner.Tick();
  EXPECT_EQ(TotalSends(), 1) << "a burst of a tenth of a second at 10/s";
  for (int tick = 0; tick < 10; ++tick) {
    clock_.Advance(absl::Milliseconds(100));
    runner.Tick();
  }
  EXPECT_EQ(TotalSends(), 11) << "one second later: 10 more";
  EXPECT_EQ(runner.job().counters().in_flight(), 11);
  EXPECT_EQ(runner.job().counters().pending(), 9);
  for (int tick = 0; tick < 10; ++tick) {
    clock_.Advance(absl::Milliseconds(100));
    runner.Tick();
  }
  EXPECT_EQ(TotalSends(), 20);
  EXPECT_EQ(runner.job().state(), JOB_STATE_RUNNING);
  for (size_t i = 0; i < devices_.size(); ++i) Answer(runner, i, hive::bridge::v1::REQUEST_STATUS_ACKED);
  EXPECT_EQ(runner.job().state(), JOB_STATE_COMPLETED);
  EXPECT_TRUE(runner.ended());
  EXPECT_EQ(runner.job().counters().succeeded(), 20);
  EXPECT_EQ(changes_.back().job().state(), JOB_STATE_COMPLETED);
  for (const auto& [device, count] : sender_.sends) EXPECT_EQ(count, 1) << device;
}

TEST_F(JobRunnerTest, ItsChangesCarryTheJobWithoutItsSpec) {
  for (const std::string& id : devices_) job_.mutable_spec()->mutable_target()->mutable_devices()->add_device_ids(id);
  job_.mutable_spec()->mutable_rollout()->set_max_rate(1000);
  JobRunner& runner = Start();
  runner.Announce();
  runner.Tick();
  EXPECT_EQ(TotalSends(), 20);
  for (size_t i = 0; i < devices_.size(); ++i) Answer(runner, i, hive::bridge::v1::REQUEST_STATUS_ACKED);
  ASSERT_TRUE(runner.ended());
  ASSERT_GE(changes_.size(), 22u) << "started, 20 outcomes, ended";
  for (const WatchJobResponse& change : changes_) {
    EXPECT_FALSE(change.job().has_spec()) << change.sequence();
    EXPECT_EQ(change.job().job_id(), job_.job_id());
  }
  EXPECT_FALSE(runner.job().has_spec());
  // The store still has it whole.
  absl::StatusOr<std::optional<Job>> stored = store_->Get(job_.job_id());
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->spec().target().devices().device_ids_size(), 20);
  EXPECT_EQ((*stored)->state(), JOB_STATE_COMPLETED);
}

TEST_F(JobRunnerTest, KeepsAtMostMaxInFlight) {
  job_.mutable_spec()->mutable_rollout()->set_max_rate(1000);
  job_.mutable_spec()->mutable_rollout()->set_max_in_flight(3);
  JobRunner& runner = Start();
  runner.Tick();
  EXPECT_EQ(TotalSends(), 3);
  Answer(runner, 0, hive::bridge::v1::REQUEST_STATUS_ACKED);
  clock_.Advance(absl::Milliseconds(100));
  runner.Tick();
  EXPECT_EQ(TotalSends(), 4);
  EXPECT_EQ(runner.job().counters().in_flight(), 3);
}

TEST_F(JobRunnerTest, WaitsForEachWaveAndItsPause) {
  job_.mutable_spec()->mutable_rollout()->set_max_rate(1000);
  auto* first = job_.mutable_spec()->mutable_rollout()->add_waves();
  first->set_percent(10);
  first->mutable_pause_after()->set_seconds(5);
  job_.mutable_spec()->mutable_rollout()->add_waves()->set_percent(100);
  JobRunner& runner = Start();
  runner.Tick();
  EXPECT_EQ(TotalSends(), 2) << "10% of 20";
  Answer(runner, 0, hive::bridge::v1::REQUEST_STATUS_ACKED);
  Answer(runner, 1, hive::bridge::v1::REQUEST_STATUS_ACKED);
  const absl::Time resume = runner.Tick();
  EXPECT_EQ(runner.job().state(), JOB_STATE_PAUSED);
  EXPECT_EQ(resume, clock_.Now() + absl::Seconds(5));
  clock_.Advance(absl::Seconds(4));
  runner.Tick();
  EXPECT_EQ(TotalSends(), 2);
  clock_.Advance(absl::Seconds(1));
  runner.Tick();
  EXPECT_EQ(runner.job().state(), JOB_STATE_RUNNING);
  EXPECT_EQ(runner.job().wave(), 1);
  EXPECT_GT(TotalSends(), 2);
}

TEST_F(JobRunnerTest, OfflineDevicesAreQueuedAndDoNotHoldTheInFlightBound) {
  job_.mutable_spec()->mutable_rollout()->set_max_rate(1000);
  job_.mutable_spec()->mutable_rollout()->set_max_in_flight(2);
  for (int i = 0; i < 5; ++i) sender_.offline.insert(devices_[i]);
  JobRunner& runner = Start();
  runner.Tick();
  EXPECT_EQ(runner.job().counters().queued(), 5);
  EXPECT_EQ(runner.job().counters().in_flight(), 2);
  EXPECT_EQ(sender_.last_ttl, absl::Seconds(60));
  Answer(runner, 0, hive::bridge::v1::REQUEST_STATUS_EXPIRED);
  EXPECT_EQ(runner.job().counters().expired(), 1);
}

TEST_F(JobRunnerTest, TheAbortRuleStopsSendingAndCancelsWhatIsQueued) {
  job_.mutable_spec()->mutable_rollout()->set_max_rate(1000);
  job_.mutable_spec()->mutable_rollout()->set_max_in_flight(6);
  job_.mutable_spec()->set_wait(WAIT_MODE_RESULT);
  job_.mutable_spec()->mutable_rollout()->mutable_abort()->set_window(4);
  job_.mutable_spec()->mutable_rollout()->mutable_abort()->set_max_failure_ratio(0.5);
  sender_.offline.insert(devices_[5]);
  JobRunner& runner = Start();
  runner.Tick();
  EXPECT_EQ(TotalSends(), 7) << "six in flight and one queued";
  Answer(runner, 0, hive::bridge::v1::REQUEST_STATUS_FAILED);
  Answer(runner, 1, hive::bridge::v1::REQUEST_STATUS_SUCCEEDED);
  Answer(runner, 2, hive::bridge::v1::REQUEST_STATUS_FAILED);
  EXPECT_EQ(runner.job().state(), JOB_STATE_RUNNING) << "the window is not full yet";
  Answer(runner, 3, hive::bridge::v1::REQUEST_STATUS_UNCONFIRMED);
  EXPECT_EQ(runner.job().state(), JOB_STATE_ABORTED);
  EXPECT_THAT(runner.job().end_reason(), ::testing::HasSubstr("3 of the last 4 devices failed"));
  EXPECT_EQ(sender_.records[JobRequestId(job_.job_id(), devices_[5])].status(),
            hive::bridge::v1::REQUEST_STATUS_CANCELLED);
  EXPECT_EQ(runner.job().counters().skipped(), 14) << "13 never sent and the queued one";
  EXPECT_FALSE(runner.ended()) << "two requests are still in flight";
  clock_.Advance(absl::Seconds(10));
  runner.Tick();
  EXPECT_EQ(TotalSends(), 7) << "nothing is sent after the abort";
  Answer(runner, 4, hive::bridge::v1::REQUEST_STATUS_SUCCEEDED);
  Answer(runner, 6, hive::bridge::v1::REQUEST_STATUS_SUCCEEDED);
  EXPECT_TRUE(runner.ended());
  EXPECT_EQ(runner.job().state(), JOB_STATE_ABORTED);
}

TEST_F(JobRunnerTest, CancelSkipsTheRest) {
  JobRunner& runner = Start();
  runner.Tick();
  runner.Cancel("by ops");
  EXPECT_EQ(runner.job().state(), JOB_STATE_CANCELLED);
  EXPECT_EQ(runner.job().counters().skipped(), 19);
  Answer(runner, 0, hive::bridge::v1::REQUEST_STATUS_ACKED);
  EXPECT_TRUE(runner.ended());
}

// include_joining: newcomers go to the end of the selection, in the last
// wave, whose first wave stays 10 % of the devices selected at the start.
TEST_F(JobRunnerTest, DevicesThatJoinAreAppendedToTheLastWaveOnceEachWithinTheLimit) {
  devices_.resize(10);
  job_.mutable_spec()->mutable_rollout()->set_max_rate(1000);
  job_.mutable_spec()->mutable_target()->mutable_selector()->set_version("1.0");
  job_.mutable_spec()->mutable_rollout()->set_include_joining(true);
  auto* first = job_.mutable_spec()->mutable_rollout()->add_waves();
  first->set_percent(10);
  first->mutable_pause_after()->set_seconds(5);
  job_.mutable_spec()->mutable_rollout()->add_waves()->set_percent(100);
  JobRunner& runner = Start();
  ASSERT_TRUE(runner.joining());
  const std::string newcomer = "00000000-0000-4000-8000-000000000100";
  const std::string another = "00000000-0000-4000-8000-000000000101";
  EXPECT_EQ(runner.Join({newcomer, devices_[3], newcomer, another}, /*max_devices=*/12), 2u)
      << "a member and a repeat join nothing";
  EXPECT_TRUE(runner.Has(newcomer));
  EXPECT_EQ(runner.job().counters().selected(), 12);
  EXPECT_EQ(runner.job().counters().joined(), 2);
  EXPECT_EQ(runner.job().counters().pending(), 12);
  ASSERT_FALSE(changes_.empty());
  EXPECT_EQ(changes_.back().job().counters().joined(), 2) << "WatchJob hears of it";
  EXPECT_EQ(runner.Join({"00000000-0000-4000-8000-000000000102"}, /*max_devices=*/12), 0u) << "at the limit";

  runner.Tick();
  EXPECT_EQ(TotalSends(), 1) << "the first wave is 10 % of the 10 selected at the start";
  Answer(runner, 0, hive::bridge::v1::REQUEST_STATUS_ACKED);
  runner.Tick();
  clock_.Advance(absl::Seconds(5));
  runner.Tick();
  EXPECT_EQ(TotalSends(), 12);
  EXPECT_EQ(sender_.sends[newcomer], 1);

  // A resumed job plans its waves the same way, from what the store has.
  absl::StatusOr<std::optional<JobStore::Unfinished>> stored = store_->LoadUnfinished(job_.job_id());
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_TRUE(stored->has_value());
  ASSERT_EQ((*stored)->members.size(), 12u);
  EXPECT_EQ((*stored)->members[10].device_id, newcomer);
  EXPECT_EQ((*stored)->job.counters().joined(), 2);
  absl::StatusOr<std::unique_ptr<JobRunner>> resumed =
      JobRunner::Make({*store_, sender_, clock_, nullptr}, **std::move(stored));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ((*resumed)->job().counters().selected(), 12);
  EXPECT_EQ((*resumed)->job().counters().joined(), 2);

  // Once the job stops, nobody joins.
  runner.Cancel("enough");
  EXPECT_FALSE(runner.joining());
  EXPECT_EQ(runner.Join({"00000000-0000-4000-8000-000000000103"}, 100), 0u);
}

TEST_F(JobRunnerTest, AJobWithoutIncludeJoiningTakesNoNewcomers) {
  job_.mutable_spec()->mutable_target()->mutable_selector()->set_version("1.0");
  JobRunner& runner = Start();
  EXPECT_FALSE(runner.joining());
  EXPECT_EQ(runner.Join({"00000000-0000-4000-8000-000000000100"}, 100), 0u);
  EXPECT_EQ(runner.job().counters().selected(), 20);
}

TEST_F(JobRunnerTest, AResumedJobReadsBackWhatItSentAndNeverSendsItAgain) {
  job_.mutable_spec()->mutable_rollout()->set_max_rate(1000);
  {
    JobRunner& runner = Start();
    runner.Tick();  // all 20 sent (the burst is 100)
    Answer(runner, 0, hive::bridge::v1::REQUEST_STATUS_ACKED);
  }
  // The bridge died after the sends were queued and before its cursor moved
  // past some of them: the store says 10, the queue has all 20.
  std::vector<JobStore::Member> members = Members();
  members[0].status = hive::bridge::v1::REQUEST_STATUS_ACKED;
  sender_.records[JobRequestId(job_.job_id(), devices_[1])].set_status(hive::bridge::v1::REQUEST_STATUS_SUCCEEDED);
  absl::StatusOr<std::unique_ptr<JobRunner>> resumed =
      JobRunner::Make({*store_, sender_, clock_, nullptr}, {job_, 10, members, 1});
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  ASSERT_TRUE((*resumed)->Reconcile().ok());
  (*resumed)->Tick();
  EXPECT_EQ((*resumed)->job().counters().succeeded(), 2);
  EXPECT_EQ((*resumed)->job().counters().in_flight(), 18);
  // Sent again through the queue, which stored each id once: no device got
  // a second request (the fake counts calls, the queue stores one record).
  EXPECT_EQ(sender_.records.size(), 20u);
}

}  // namespace
}  // namespace hive

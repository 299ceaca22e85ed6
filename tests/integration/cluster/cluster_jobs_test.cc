// Fleet jobs in cluster mode (docs/jobs.md, "In a cluster"): a private
// rabbitmq-server and three hivebridge replicas on loopback, real WebSocket
// devices spread over them and real gRPC clients. A job started on one
// replica is the same job on every replica, each device gets its command
// once (a device that joins the fleet on another replica while it runs
// too: include_joining), a replica killed while it drives a job hands the job over, and a
// cancel through another replica stops it.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge/uuid.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "hive/bridge/v1/jobs.grpc.pb.h"
#include "tests/integration/support/bridge_process.h"
#include "tests/integration/support/cluster_fixture.h"
#include "tests/integration/support/grpc_calls.h"
#include "tests/integration/support/job_calls.h"
#include "tests/integration/support/rabbitmq_broker.h"
#include "tests/integration/support/state_dir.h"
#include "tests/integration/support/test_device.h"
#include "tests/integration/support/wait_until.h"
#include "tests/unit/support/test_tokens.h"

namespace hive::integration {
namespace {

using hive::bridge::v1::FleetJobs;
using hive::bridge::v1::Job;
using hive::bridge::v1::StartJobRequest;
using hive::bridge::v1::StartJobResponse;
using hive::bridge::v1::WatchJobResponse;
using ::testing::HasSubstr;

// What the fleet learns through the broker takes milliseconds; the machine
// may be busy. A takeover waits for the fleet to miss the driver (5 s).
constexpr absl::Duration kPropagation = absl::Seconds(10);
constexpr absl::Duration kJobEnd = absl::Seconds(60);

class ClusterJobsTest : public ClusterFixture {
 protected:
  // A replica answers jobs once its view has read the jobs log.
  void SetUp() override { StartCluster("event=jobs_caught_up"); }

  // Replicas 1 and 2 keep their twins in a --state-dir, replica 3 has none:
  // in a cluster the jobs live on the broker either way.
  std::vector<std::string> FlagsFor(int index) override {
    if (index < kReplicas) return {state_dirs_[index - 1].flag()};
    return {};
  }

  FleetJobs::Stub& jobs(int index) {
    auto& stub = job_stubs_[index];
    if (stub == nullptr) {
      stub = FleetJobs::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", replica(index).grpc_port()),
                                                    grpc::InsecureChannelCredentials()));
    }
    return *stub;
  }

  // Waits until replica `index` knows the device online (or offline).
  ::testing::AssertionResult AwaitKnown(int index, const std::string& device_id, bool online) {
    return WaitUntil(
        [&] {
          hive::bridge::v1::GetDeviceResponse response;
          return GetDevice(stub(index), device_id, &response).ok() && response.device().online() == online;
        },
        absl::StrCat("replica-", index, " knows ", device_id, online ? " online" : " offline"), kPropagation);
  }

  // Devices of the account the fleet remembers, offline now.
  std::vector<std::string> KnownOffline(int count, int connect_to) {
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
      std::unique_ptr<TestDevice> device = ConnectDevice(connect_to, std::nullopt);
      ids.push_back(device->device_id());
      device->Close();
      EXPECT_TRUE(device->WaitClosed(absl::Seconds(5)));
    }
    return ids;
  }

  StartJobRequest JobRequest(double rate) const { return StopJobRequest(account_, rate); }

  grpc::Status Start(int index, const StartJobRequest& request, StartJobResponse* response) {
    return StartJob(jobs(index), request, response);
  }

  grpc::Status GetJob(int index, const std::string& job_id, Job* job) {
    return integration::GetJob(jobs(index), job_id, job);
  }

  // The job as replica `index` has it; empty while it has not read the job's
  // start from the log yet (for waiting, where NOT_FOUND is "not yet").
  Job Peek(int index, const std::string& job_id) {
    Job job;
    return GetJob(index, job_id, &job).ok() ? job : Job();
  }

  Job Get(int index, const std::string& job_id) {
    Job job;
    grpc::Status status = GetJob(index, job_id, &job);
    EXPECT_TRUE(status.ok()) << "replica-" << index << ": " << status.error_message();
    return job;
  }

  ::testing::AssertionResult AwaitEnded(int index, const std::string& job_id) {
    return WaitUntil([&] { return Peek(index, job_id).has_ended_at(); },
                     absl::StrCat("replica-", index, " sees job ", job_id, " end"), kJobEnd);
  }

  std::vector<WatchJobResponse> WatchToEnd(int index, const std::string& job_id, grpc::Status* end) {
    return WatchJobToEnd(jobs(index), job_id, 0, end, kJobEnd);
  }

  grpc::Status Cancel(int index, const std::string& job_id, Job* job) { return CancelJob(jobs(index), job_id, job); }

  StateDir state_dirs_[kReplicas - 1];
  std::map<int, std::unique_ptr<FleetJobs::Stub>> job_stubs_;
};

TEST_F(ClusterJobsTest, AJobStartedOnOneReplicaIsTheSameOnEveryReplicaAndReachesEachDeviceOnce) {
  // Devices on every replica, and some the fleet knows but that are offline.
  std::vector<std::unique_ptr<TestDevice>> online;
  online.reserve(10);
  for (int i = 0; i < 9; ++i) online.push_back(ConnectDevice(1 + i % kReplicas, Responder::Ack()));
  const std::vector<std::string> offline = KnownOffline(3, 2);
  for (const auto& device : online) ASSERT_TRUE(AwaitKnown(1, device->device_id(), true));
  for (const std::string& id : offline) ASSERT_TRUE(AwaitKnown(1, id, false));

  StartJobResponse started;
  StartJobRequest request = JobRequest(/*rate=*/100);
  request.mutable_rollout()->set_include_joining(true);
  const grpc::Status status = Start(1, request, &started);
  ASSERT_TRUE(status.ok()) << status.error_message() << Logs();
  const std::string job_id = started.job().job_id();
  EXPECT_EQ(started.job().counters().selected(), 12);
  EXPECT_EQ(started.job().replica(), "replica-1");

  // Replica 2 follows the job: the online devices' outcomes, the offline
  // ones queued.
  ASSERT_TRUE(WaitUntil(
      [&] {
        const Job job = Peek(2, job_id);
        return job.counters().succeeded() == 9 && job.counters().queued() == 3;
      },
      "replica-2 sees 9 devices done and 3 queued", kPropagation))
      << Get(2, job_id).DebugString() << Logs();
  EXPECT_EQ(Get(2, job_id).replica(), "replica-1");
  for (const auto& device : online) EXPECT_EQ(device->received_requests(), 1) << device->Transcript();

  // A second job, over another account's devices online now, waits in a
  // long pause after its first wave: a newcomer of that account on another
  // replica, seen online there, joins it.
  const std::string other_account = NewUuid();
  std::unique_ptr<TestDevice> other_first = ConnectDevice(1, Responder::Ack(), "", other_account);
  std::unique_ptr<TestDevice> other_second = ConnectDevice(1, Responder::Ack(), "", other_account);
  ASSERT_TRUE(AwaitKnown(1, other_first->device_id(), true));
  ASSERT_TRUE(AwaitKnown(1, other_second->device_id(), true));
  StartJobRequest online_only = JobRequest(/*rate=*/100);
  online_only.mutable_target()->mutable_selector()->set_account_id(other_account);
  online_only.mutable_target()->mutable_selector()->set_presence(hive::bridge::v1::PRESENCE_ONLINE);
  online_only.mutable_rollout()->set_include_joining(true);
  auto* wave = online_only.mutable_rollout()->add_waves();
  wave->set_percent(10);
  wave->mutable_pause_after()->set_seconds(600);
  online_only.mutable_rollout()->add_waves()->set_percent(100);
  StartJobResponse paused;
  const grpc::Status paused_status = Start(1, online_only, &paused);
  ASSERT_TRUE(paused_status.ok()) << paused_status.error_message() << Logs();
  EXPECT_EQ(paused.job().counters().selected(), 2);

  // A device new to the fleet connects to replica 2 while the jobs run: the
  // driver, replica 1, takes it in (include_joining), and every replica's
  // view has it.
  online.push_back(ConnectDevice(2, Responder::Ack()));
  std::unique_ptr<TestDevice> other_newcomer = ConnectDevice(3, Responder::Ack(), "", other_account);
  ASSERT_TRUE(
      WaitUntil([&] { return online.back()->received_requests() == 1; }, "the newcomer gets the command", kPropagation))
      << Logs();
  ASSERT_TRUE(WaitUntil(
      [&] {
        const Job job = Peek(3, job_id);
        return job.counters().succeeded() == 10 && job.counters().joined() == 1;
      },
      "replica-3 sees the newcomer joined and done", kPropagation))
      << Get(3, job_id).DebugString() << Logs();
  ASSERT_TRUE(WaitUntil(
      [&] {
        const Job job = Peek(2, paused.job().job_id());
        return job.counters().selected() == 3 && job.counters().joined() == 1;
      },
      "the newcomer joins the job over online devices", kPropagation))
      << Get(2, paused.job().job_id()).DebugString() << Logs();
  Job cancelled;
  ASSERT_TRUE(Cancel(3, paused.job().job_id(), &cancelled).ok());
  ASSERT_TRUE(AwaitEnded(1, paused.job().job_id())) << Logs();
  EXPECT_EQ(other_newcomer->received_requests(), 0) << "its wave never came";

  // The offline devices come back to replica 3 and get theirs.
  std::vector<std::unique_ptr<TestDevice>> returned;
  returned.reserve(offline.size());
  for (const std::string& id : offline) returned.push_back(ConnectDevice(3, Responder::Ack(), id));
  for (int i = 1; i <= kReplicas; ++i) ASSERT_TRUE(AwaitEnded(i, job_id)) << Logs();
  for (const auto& device : returned) EXPECT_EQ(device->received_requests(), 1) << device->Transcript();
  for (const auto& device : online) EXPECT_EQ(device->received_requests(), 1) << device->Transcript();

  // Every replica answers alike.
  const Job ended = Get(1, job_id);
  EXPECT_EQ(ended.state(), hive::bridge::v1::JOB_STATE_COMPLETED) << ended.DebugString();
  EXPECT_EQ(ended.counters().succeeded(), 13) << ended.DebugString();
  EXPECT_EQ(ended.counters().selected(), 13) << ended.DebugString();
  for (int i = 2; i <= kReplicas; ++i) {
    const Job other = Get(i, job_id);
    EXPECT_EQ(other.state(), ended.state()) << "replica-" << i;
    EXPECT_EQ(other.counters().SerializeAsString(), ended.counters().SerializeAsString())
        << "replica-" << i << ": " << other.counters().ShortDebugString();
  }
  // The same history, sequence for sequence, on the driver and a follower;
  // each device's outcome once, its request the one the device received.
  grpc::Status end;
  const std::vector<WatchJobResponse> on_1 = WatchToEnd(1, job_id, &end);
  EXPECT_TRUE(end.ok()) << end.error_message();
  const std::vector<WatchJobResponse> on_3 = WatchToEnd(3, job_id, &end);
  EXPECT_TRUE(end.ok()) << end.error_message();
  ASSERT_EQ(on_1.size(), on_3.size());
  for (size_t i = 0; i < on_1.size(); ++i) {
    EXPECT_EQ(on_1[i].sequence(), on_3[i].sequence());
    EXPECT_EQ(on_1[i].outcome().SerializeAsString(), on_3[i].outcome().SerializeAsString());
    // The spec is in the start operation alone: each change (a `record`
    // operation) carries the job without it; GetJob has it.
    EXPECT_FALSE(on_1[i].job().has_spec()) << on_1[i].sequence();
    EXPECT_FALSE(on_3[i].job().has_spec()) << on_3[i].sequence();
  }
  Job whole;
  ASSERT_TRUE(GetJob(3, job_id, &whole).ok());
  EXPECT_TRUE(whole.spec().has_command()) << whole.DebugString();
  EXPECT_GT(whole.spec().rollout().max_rate(), 0) << whole.DebugString();
  std::map<std::string, std::string> request_of;
  for (const WatchJobResponse& change : on_3) {
    if (!change.has_outcome()) continue;
    EXPECT_TRUE(request_of.emplace(change.outcome().device_id(), change.outcome().request_id()).second)
        << "two outcomes for " << change.outcome().device_id();
  }
  EXPECT_EQ(request_of.size(), 13u);
  for (const auto& device : online) {
    EXPECT_THAT(device->received_request_ids(), ::testing::ElementsAre(request_of[device->device_id()]));
  }

  // Bad input is refused as on one bridge; an unknown job is NOT_FOUND everywhere.
  StartJobRequest bad = JobRequest(/*rate=*/0);
  StartJobResponse refused;
  const grpc::Status invalid = Start(2, bad, &refused);
  EXPECT_EQ(invalid.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(invalid.error_message(), HasSubstr("rollout.max_rate"));
  Job unknown;
  EXPECT_EQ(GetJob(3, NewUuid(), &unknown).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Cancel(2, NewUuid(), &unknown).error_code(), grpc::StatusCode::NOT_FOUND);
  // A retry of the same StartJob on another replica is the same job.
  StartJobRequest retry = JobRequest(/*rate=*/100);
  retry.set_job_id(job_id);
  retry.mutable_rollout()->set_include_joining(true);
  *retry.mutable_command() = started.job().spec().command();
  StartJobResponse again;
  const grpc::Status retried = Start(3, retry, &again);
  ASSERT_TRUE(retried.ok()) << retried.error_message();
  EXPECT_EQ(again.job().job_id(), job_id);
  EXPECT_EQ(again.job().state(), hive::bridge::v1::JOB_STATE_COMPLETED);
}

TEST_F(ClusterJobsTest, AReplicaKilledWhileDrivingAJobHandsItOverAndNoDeviceGetsItTwice) {
  // 30 devices, 10 on each replica; the job goes at 4 a second, so it is
  // mid-way when its driver dies.
  std::vector<std::unique_ptr<TestDevice>> first_life;
  first_life.reserve(30);
  for (int i = 0; i < 30; ++i) first_life.push_back(ConnectDevice(1 + i % kReplicas, Responder::Ack()));
  for (const auto& device : first_life) ASSERT_TRUE(AwaitKnown(1, device->device_id(), true));

  StartJobResponse started;
  const grpc::Status status = Start(1, JobRequest(/*rate=*/4), &started);
  ASSERT_TRUE(status.ok()) << status.error_message() << Logs();
  const std::string job_id = started.job().job_id();
  auto received = [&] {
    int total = 0;
    for (const auto& device : first_life) total += device->received_requests();
    return total;
  };
  ASSERT_TRUE(WaitUntil([&] { return received() >= 6; }, "a few devices have the command")) << Logs();
  replica(1).Signal(SIGKILL);
  ASSERT_TRUE(replica(1).Wait(absl::Seconds(10)).has_value());

  // Replica 1's devices lose their connection and come back to replica 2.
  std::map<std::string, std::unique_ptr<TestDevice>> second_life;
  for (size_t i = 0; i < first_life.size(); i += kReplicas) {
    ASSERT_TRUE(first_life[i]->WaitClosed(absl::Seconds(10)));
    second_life[first_life[i]->device_id()] = ConnectDevice(2, Responder::Ack(), first_life[i]->device_id());
  }

  // A survivor takes the lease and finishes the job.
  ASSERT_TRUE(WaitUntil(
      [&] {
        const std::string driver = Peek(3, job_id).replica();
        return driver == "replica-2" || driver == "replica-3";
      },
      "a survivor drives the job", absl::Seconds(30)))
      << Get(3, job_id).DebugString() << Logs();
  ASSERT_TRUE(AwaitEnded(2, job_id)) << Logs();
  ASSERT_TRUE(AwaitEnded(3, job_id)) << Logs();
  const Job job = Get(2, job_id);
  EXPECT_EQ(job.state(), hive::bridge::v1::JOB_STATE_COMPLETED) << job.DebugString();
  EXPECT_EQ(Get(3, job_id).counters().SerializeAsString(), job.counters().SerializeAsString());
  int total = 0;
  for (const auto& device : first_life) {
    auto moved = second_life.find(device->device_id());
    const int times =
        device->received_requests() + (moved == second_life.end() ? 0 : moved->second->received_requests());
    EXPECT_LE(times, 1) << device->device_id() << " got the command twice";
    total += times;
  }
  // Every device that acked had it once. One handed over on the killed
  // replica and not acked is UNCONFIRMED (failed), never sent again.
  EXPECT_GE(total, job.counters().succeeded()) << job.DebugString();
  EXPECT_LE(total, job.counters().succeeded() + job.counters().failed()) << job.DebugString();
  EXPECT_EQ(job.counters().succeeded() + job.counters().failed(), 30) << job.DebugString();

  // The history says who took it over: a change of the job alone naming the
  // new driver, after changes by replica-1.
  grpc::Status end;
  const std::vector<WatchJobResponse> changes = WatchToEnd(3, job_id, &end);
  EXPECT_TRUE(end.ok()) << end.error_message();
  std::set<std::string> drivers;
  for (const WatchJobResponse& change : changes) drivers.insert(change.job().replica());
  EXPECT_TRUE(drivers.count("replica-1") == 1 && drivers.size() == 2) << ::testing::PrintToString(drivers);
}

TEST_F(ClusterJobsTest, CancelThroughAReplicaNotDrivingTheJobStopsIt) {
  std::vector<std::unique_ptr<TestDevice>> online;
  online.reserve(2);
  for (int i = 0; i < 2; ++i) online.push_back(ConnectDevice(2, Responder::Ack()));
  const std::vector<std::string> offline = KnownOffline(4, 3);
  for (const auto& device : online) ASSERT_TRUE(AwaitKnown(1, device->device_id(), true));
  for (const std::string& id : offline) ASSERT_TRUE(AwaitKnown(1, id, false));

  StartJobResponse started;
  const grpc::Status status = Start(1, JobRequest(/*rate=*/100), &started);
  ASSERT_TRUE(status.ok()) << status.error_message() << Logs();
  const std::string job_id = started.job().job_id();
  ASSERT_TRUE(
      WaitUntil([&] { return Peek(3, job_id).counters().queued() == 4; }, "replica-3 sees 4 queued", kPropagation))
      << Logs();

  // Replica 3 does not drive it; when CancelJob returns there, the driver has
  // stopped the job and cancelled its queued requests.
  Job cancelled;
  const grpc::Status cancel = Cancel(3, job_id, &cancelled);
  ASSERT_TRUE(cancel.ok()) << cancel.error_message() << Logs();
  EXPECT_EQ(cancelled.state(), hive::bridge::v1::JOB_STATE_CANCELLED) << cancelled.DebugString();
  for (int i = 1; i <= kReplicas; ++i) ASSERT_TRUE(AwaitEnded(i, job_id)) << Logs();
  const Job ended = Get(2, job_id);
  EXPECT_EQ(ended.state(), hive::bridge::v1::JOB_STATE_CANCELLED);
  EXPECT_THAT(ended.end_reason(), HasSubstr("cancelled by"));
  EXPECT_EQ(ended.counters().skipped(), 4) << ended.DebugString();
  EXPECT_EQ(ended.counters().succeeded(), 2) << ended.DebugString();

  // The devices that come back get nothing of the job: only a probe sent after.
  for (const std::string& id : offline) {
    std::unique_ptr<TestDevice> back = ConnectDevice(2, Responder::Ack(), id);
    ASSERT_TRUE(AwaitKnown(1, id, true));
    SendDeviceRequestRequest probe = RequestTo(id);
    probe.set_request_id(NewUuid());
    CallResult result = SendRequest(stub(1), probe);
    ASSERT_TRUE(result.status.ok()) << result;
    EXPECT_THAT(back->received_request_ids(), ::testing::ElementsAre(probe.request_id()))
        << "only the probe: " << back->Transcript();
  }
}

}  // namespace
}  // namespace hive::integration

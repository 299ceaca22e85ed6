// Cluster mode end to end: a private rabbitmq-server and three hivebridge
// replicas on loopback, real WebSocket devices and gRPC clients.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bridge/uuid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_process.h"
#include "tests/integration/support/child_process.h"
#include "tests/integration/support/event_stream.h"
#include "tests/integration/support/grpc_calls.h"
#include "tests/integration/support/rabbitmq_broker.h"
#include "tests/integration/support/raw_connection.h"
#include "tests/integration/support/test_device.h"
#include "tests/unit/support/test_tokens.h"

namespace hive::integration {
namespace {

using hive::bridge::v1::GetDeviceResponse;
using hive::bridge::v1::ListDevicesRequest;
using hive::bridge::v1::ListDevicesResponse;
using hive::bridge::v1::REQUEST_STATUS_ACKED;
using hive::bridge::v1::REQUEST_STATUS_SUCCEEDED;
using hive::bridge::v1::SubscribeEventsRequest;
using hive::bridge::v1::WAIT_MODE_ACK;
using hive::bridge::v1::WAIT_MODE_RESULT;

constexpr int kReplicas = 3;
// The fleet learns of a device through the broker; it takes milliseconds,
// but the machine may be busy.
constexpr absl::Duration kPropagation = absl::Seconds(10);

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<RabbitMqBroker>> broker = RabbitMqBroker::Start();
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
    secret_path_ = ::testing::TempDir() + "/cluster-secret-" + NewUuid();
    std::ofstream(secret_path_) << secret_;
    for (int i = 1; i <= kReplicas; ++i) StartReplica(i);
    for (int i = 1; i <= kReplicas; ++i) AwaitBusConnected(i);
  }

  void TearDown() override {
    replicas_.clear();
    std::remove(secret_path_.c_str());
  }

  void StartReplica(int index) {
    absl::StatusOr<std::unique_ptr<BridgeProcess>> replica = BridgeProcess::Start(
        {"--bus=" + broker_->url(), absl::StrCat("--replica-id=replica-", index), "--jwt-secret-file=" + secret_path_});
    ASSERT_TRUE(replica.ok()) << replica.status();
    if (replicas_.size() < static_cast<size_t>(index)) replicas_.resize(index);
    replicas_[index - 1] = *std::move(replica);
  }

  void AwaitBusConnected(int index) {
    ASSERT_TRUE(replica(index).WaitForLog("event=bus_connected", absl::Seconds(30))) << replica(index).Log();
  }

  BridgeProcess& replica(int index) { return *replicas_[index - 1]; }

  Stub& stub(int index) {
    auto& stub = stubs_[replicas_[index - 1].get()];
    if (stub == nullptr) stub = replica(index).NewStub();
    return *stub;
  }

  std::unique_ptr<TestDevice> ConnectDevice(int index, std::optional<Responder> responder, std::string device_id = "",
                                            std::string account_id = "") {
    if (device_id.empty()) device_id = NewUuid();
    if (account_id.empty()) account_id = account_;
    auto device = std::make_unique<TestDevice>(DeviceOptions{
        .url = replica(index).ws_url(),
        .device_id = device_id,
        .account_id = account_id,
        .token = testing::MintHs256(secret_, device_id, account_id, absl::Now() + absl::Hours(1)),
        .responder = std::move(responder)});
    absl::StatusOr<std::string> connected = device->ConnectAndAuthenticate();
    if (!connected.ok()) ADD_FAILURE() << connected.status() << "\n" << replica(index).Log();
    return device;
  }

  // Waits until replica `index` reports `device_id` held by `holder`.
  void AwaitHolder(int index, const std::string& device_id, int holder) {
    const std::string expected = absl::StrCat("replica-", holder);
    const absl::Time deadline = absl::Now() + kPropagation;
    GetDeviceResponse response;
    while (absl::Now() < deadline) {
      response.Clear();
      if (GetDevice(stub(index), device_id, &response).ok() && response.device().replica() == expected) return;
      absl::SleepFor(absl::Milliseconds(20));
    }
    FAIL() << "replica-" << index << " never saw " << device_id << " on " << expected << "; last answer "
           << response.ShortDebugString() << "\n"
           << replica(index).Log();
  }

  // The account's events from the start of the replica's history (this
  // test's broker is fresh), so a stream that opens after the first events
  // still sees them: the epoch is the fleet stream's, alike on every replica.
  SubscribeEventsRequest AccountEvents(std::string type = "") {
    SubscribeEventsRequest request;
    request.add_account_ids(account_);
    if (!type.empty()) request.add_types(std::move(type));
    request.mutable_resume_after()->set_epoch(replica(1).epoch());
    request.mutable_resume_after()->set_sequence(0);
    return request;
  }

  const std::string secret_ = absl::StrCat("cluster-test-secret-", NewUuid());
  const std::string account_ = NewUuid();
  std::string secret_path_;
  std::unique_ptr<RabbitMqBroker> broker_;
  std::vector<std::unique_ptr<BridgeProcess>> replicas_;
  std::map<const BridgeProcess*, std::unique_ptr<Stub>> stubs_;
};

int MarkerOf(const DeviceEvent& event) {
  auto it = event.extra().fields().find("marker");
  return it == event.extra().fields().end() ? -1 : static_cast<int>(it->second.number_value());
}

std::string MarkedEvent(int marker) {
  return absl::StrCat(R"({"type":"device-state","state":"running","marker":)", marker, "}");
}

// Reads device-state events until `expected` markers came or `timeout`;
// returns how often each marker arrived.
std::map<int, int> CollectMarkers(EventStream& stream, size_t expected, absl::Duration timeout) {
  std::map<int, int> seen;
  const absl::Time deadline = absl::Now() + timeout;
  size_t distinct = 0;
  while (distinct < expected && absl::Now() < deadline) {
    std::optional<DeviceEvent> event = stream.NextMatching(OfType("device-state"), deadline - absl::Now());
    if (!event.has_value()) break;
    if (++seen[MarkerOf(*event)] == 1) ++distinct;
  }
  // Anything delivered twice would follow promptly.
  while (std::optional<DeviceEvent> extra = stream.NextMatching(OfType("device-state"), absl::Milliseconds(500))) {
    ++seen[MarkerOf(*extra)];
  }
  return seen;
}

TEST_F(ClusterTest, RequestThroughAnotherReplicaReachesTheDeviceAndReturnsItsResult) {
  std::unique_ptr<TestDevice> device = ConnectDevice(1, Responder::AckThenOk(R"({"stopped":"wikijs"})"));
  AwaitHolder(2, device->device_id(), 1);

  CallResult result = SendRequest(stub(2), RequestTo(device->device_id(), WAIT_MODE_RESULT));
  ASSERT_TRUE(result.status.ok()) << result << "\n" << replica(2).Log();
  EXPECT_EQ(result.response.status(), REQUEST_STATUS_SUCCEEDED);
  EXPECT_EQ(result.response.result().fields().at("stopped").string_value(), "wikijs");

  CallResult acked = SendRequest(stub(3), RequestTo(device->device_id(), WAIT_MODE_ACK));
  ASSERT_TRUE(acked.status.ok()) << acked;
  EXPECT_EQ(acked.response.status(), REQUEST_STATUS_ACKED);
  EXPECT_EQ(device->received_requests(), 2);
}

TEST_F(ClusterTest, RetriedRequestIdThroughAnotherReplicaIsNotSentTwice) {
  std::unique_ptr<TestDevice> device = ConnectDevice(1, Responder::AckThenOk("{}"));
  AwaitHolder(2, device->device_id(), 1);
  AwaitHolder(3, device->device_id(), 1);
  auto request = RequestTo(device->device_id(), WAIT_MODE_RESULT);
  request.set_request_id(NewUuid());
  ASSERT_TRUE(SendRequest(stub(2), request).status.ok());
  CallResult retried = SendRequest(stub(3), request);
  ASSERT_TRUE(retried.status.ok()) << retried;
  EXPECT_EQ(retried.response.status(), REQUEST_STATUS_SUCCEEDED);
  EXPECT_EQ(device->received_requests(), 1);
}

TEST_F(ClusterTest, FleetIsListedFromEveryReplicaWithEachDevicesHolder) {
  std::unique_ptr<TestDevice> on_1 = ConnectDevice(1, Responder::Ack());
  std::unique_ptr<TestDevice> on_2 = ConnectDevice(2, Responder::Ack());
  AwaitHolder(3, on_1->device_id(), 1);
  AwaitHolder(3, on_2->device_id(), 2);
  ListDevicesRequest request;
  request.set_account_id(account_);
  ListDevicesResponse response;
  grpc::ClientContext context;
  SetDeadline(context, absl::Seconds(5));
  ASSERT_TRUE(stub(3).ListDevices(&context, request, &response).ok());
  std::map<std::string, std::string> holders;
  for (const auto& device : response.devices()) holders[device.device_id()] = device.replica();
  EXPECT_THAT(holders, ::testing::UnorderedElementsAre(::testing::Pair(on_1->device_id(), "replica-1"),
                                                       ::testing::Pair(on_2->device_id(), "replica-2")));

  on_1->Close();
  const absl::Time deadline = absl::Now() + kPropagation;
  while (GetDevice(stub(3), on_1->device_id()).ok() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(GetDevice(stub(3), on_1->device_id()).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ClusterTest, RequestForADeviceNoReplicaHoldsIsNotFoundAndOneThatConnectsInTimeSucceeds) {
  CallResult missing = SendRequest(stub(2), RequestTo(NewUuid()));
  EXPECT_EQ(missing.status.error_code(), grpc::StatusCode::NOT_FOUND) << missing;

  const std::string late = NewUuid();
  auto request = RequestTo(late);
  request.mutable_connect_timeout()->set_seconds(8);
  PendingCall call(stub(2), request, absl::Seconds(10));
  absl::SleepFor(absl::Milliseconds(300));
  std::unique_ptr<TestDevice> device = ConnectDevice(1, Responder::Ack(), late);
  std::optional<CallResult> result = call.Wait(absl::Seconds(10));
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->status.ok()) << *result << "\n" << replica(2).Log();
  EXPECT_EQ(result->response.status(), REQUEST_STATUS_ACKED);
}

TEST_F(ClusterTest, SubscriberOnAnyReplicaSeesEveryDevicesEventsExactlyOnce) {
  EventStream stream(stub(3), AccountEvents("device-state"));
  std::unique_ptr<TestDevice> on_1 = ConnectDevice(1, Responder::Ack());
  std::unique_ptr<TestDevice> on_2 = ConnectDevice(2, Responder::Ack());
  // Let the stream's consumer on replica 3 settle before counting.
  absl::SleepFor(absl::Milliseconds(300));
  constexpr int kPerDevice = 100;
  for (int i = 0; i < kPerDevice; ++i) {
    on_1->Send(MarkedEvent(i));
    on_2->Send(MarkedEvent(kPerDevice + i));
  }
  std::map<int, int> seen = CollectMarkers(stream, 2 * kPerDevice, absl::Seconds(20));
  int total = 0;
  for (const auto& [marker, count] : seen) {
    EXPECT_EQ(count, 1) << "marker " << marker;
    total += count;
  }
  EXPECT_EQ(seen.size(), 2u * kPerDevice) << replica(3).Log();
  EXPECT_EQ(total, 2 * kPerDevice);
}

TEST_F(ClusterTest, ResumeAfterWorksOnAnotherReplicaWithTheSameSequences) {
  std::unique_ptr<TestDevice> device = ConnectDevice(1, Responder::Ack());
  EventStream on_2(stub(2), AccountEvents("device-state"));
  absl::SleepFor(absl::Milliseconds(300));
  for (int i = 0; i < 5; ++i) device->Send(MarkedEvent(i));
  std::vector<DeviceEvent> first;
  for (int i = 0; i < 5; ++i) {
    std::optional<DeviceEvent> event = on_2.NextMatching(OfType("device-state"), absl::Seconds(10));
    ASSERT_TRUE(event.has_value());
    first.push_back(*event);
  }
  // Resume on replica 3 after the second event seen on replica 2.
  SubscribeEventsRequest resume = AccountEvents("device-state");
  resume.mutable_resume_after()->set_epoch(first[1].epoch());
  resume.mutable_resume_after()->set_sequence(first[1].sequence());
  EventStream on_3(stub(3), resume);
  for (int i = 2; i < 5; ++i) {
    std::optional<DeviceEvent> event = on_3.NextMatching(OfType("device-state"), absl::Seconds(10));
    ASSERT_TRUE(event.has_value()) << replica(3).Log();
    EXPECT_EQ(MarkerOf(*event), i);
    EXPECT_EQ(event->sequence(), first[i].sequence());
  }
}

TEST_F(ClusterTest, KilledReplicasCallsFailFastAndItsDeviceIsServedAfterReconnectingElsewhere) {
  // The device acks only after a minute: the call is in flight when its replica dies.
  std::unique_ptr<TestDevice> device = ConnectDevice(1, Responder::AckAfter(absl::Minutes(1)));
  AwaitHolder(2, device->device_id(), 1);
  PendingCall call(stub(2), RequestTo(device->device_id()), absl::Seconds(40));
  absl::SleepFor(absl::Milliseconds(300));
  replica(1).Signal(SIGKILL);

  std::optional<CallResult> failed = call.Wait(absl::Seconds(20));
  ASSERT_TRUE(failed.has_value()) << "the call hung after its device's replica was killed";
  EXPECT_EQ(failed->status.error_code(), grpc::StatusCode::UNAVAILABLE) << *failed;
  EXPECT_LT(failed->elapsed, absl::Seconds(20));

  ASSERT_TRUE(device->WaitClosed(absl::Seconds(5)));
  std::unique_ptr<TestDevice> moved = ConnectDevice(2, Responder::Ack(), device->device_id());
  AwaitHolder(3, moved->device_id(), 2);
  CallResult result = SendRequest(stub(3), RequestTo(moved->device_id()));
  EXPECT_TRUE(result.status.ok()) << result << "\n" << replica(3).Log();
  EXPECT_EQ(moved->received_requests(), 1);
}

TEST_F(ClusterTest, DeviceMovingToAnotherReplicaLeavesOneBindingAndItsOldConnectionIsReplaced) {
  std::unique_ptr<TestDevice> first = ConnectDevice(1, Responder::Ack());
  AwaitHolder(3, first->device_id(), 1);
  std::unique_ptr<TestDevice> second = ConnectDevice(2, Responder::Ack(), first->device_id());
  ASSERT_TRUE(first->WaitClosed(kPropagation)) << replica(1).Log();
  EXPECT_EQ(first->close_code(), 4409);
  AwaitHolder(3, first->device_id(), 2);
  for (int i = 0; i < 5; ++i) {
    CallResult result = SendRequest(stub(3), RequestTo(second->device_id()));
    ASSERT_TRUE(result.status.ok()) << result;
  }
  EXPECT_EQ(second->received_requests(), 5);
  EXPECT_EQ(first->received_requests(), 0);
}

TEST_F(ClusterTest, BrokerRestartMidRunLosesNoEventAndDeliversNoneTwice) {
  std::unique_ptr<TestDevice> device = ConnectDevice(1, Responder::Ack());
  EventStream stream(stub(3), AccountEvents("device-state"));
  absl::SleepFor(absl::Milliseconds(300));
  std::atomic<int> sent{0};
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    while (!stop) {
      device->Send(MarkedEvent(sent));
      ++sent;
      absl::SleepFor(absl::Milliseconds(10));
    }
  });
  absl::SleepFor(absl::Seconds(1));
  ASSERT_TRUE(broker_->Restart().ok()) << broker_->Log();
  for (int i = 1; i <= kReplicas; ++i) {
    ASSERT_TRUE(replica(i).WaitForLog("event=bus_disconnected", absl::Seconds(30)));
  }
  // Readiness comes back with the broker.
  const absl::Time ready_by = absl::Now() + absl::Seconds(30);
  bool ready = false;
  while (!ready && absl::Now() < ready_by) {
    absl::StatusOr<RawConnection> http = RawConnection::Open(replica(1).ws_port());
    ready = http.ok() && http->HttpGetStatus("/readyz", absl::Seconds(2)) == 200;
    if (!ready) absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(ready) << replica(1).Log();
  absl::SleepFor(absl::Seconds(1));
  stop = true;
  sender.join();

  std::map<int, int> seen = CollectMarkers(stream, sent, absl::Seconds(30));
  int duplicates = 0;
  for (const auto& [marker, count] : seen) duplicates += count - 1;
  std::cout << "events sent=" << sent << " received=" << seen.size() << " duplicates=" << duplicates << "\n";
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(seen.size(), static_cast<size_t>(sent.load())) << replica(1).Log();

  // Requests flow again once the replicas have re-announced their devices.
  AwaitHolder(2, device->device_id(), 1);
  CallResult result;
  const absl::Time deadline = absl::Now() + kPropagation;
  do {
    result = SendRequest(stub(2), RequestTo(device->device_id()));
  } while (!result.status.ok() && absl::Now() < deadline);
  EXPECT_TRUE(result.status.ok()) << result << "\n" << replica(2).Log();
}

TEST(ClusterStartTest, ReplicaStartedWhileTheBrokerIsDownIsNotReadyUntilItConnects) {
  absl::StatusOr<std::unique_ptr<RabbitMqBroker>> broker = RabbitMqBroker::Start();
  ASSERT_TRUE(broker.ok()) << broker.status();
  ASSERT_TRUE((*broker)->Stop().ok());
  absl::StatusOr<std::unique_ptr<BridgeProcess>> replica =
      BridgeProcess::Start({"--bus=" + (*broker)->url(), "--replica-id=early"});
  ASSERT_TRUE(replica.ok()) << replica.status();
  auto readyz = [&] {
    absl::StatusOr<RawConnection> http = RawConnection::Open((*replica)->ws_port());
    return http.ok() ? http->HttpGetStatus("/readyz", absl::Seconds(2)) : -1;
  };
  ASSERT_TRUE((*replica)->WaitForLog("event=bus_disconnected", absl::Seconds(10)));
  EXPECT_EQ(readyz(), 503);
  EXPECT_THAT((*replica)->Log(), ::testing::Not(::testing::HasSubstr("guest:guest")));

  ASSERT_TRUE((*broker)->Restart().ok());
  ASSERT_TRUE((*replica)->WaitForLog("event=bus_connected", absl::Seconds(30))) << (*replica)->Log();
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (readyz() != 200 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(readyz(), 200);
}

TEST_F(ClusterTest, LegacyConsumerReadsTheSeedShapedJsonFromTheEventsExchange) {
  const std::string log_path = ::testing::TempDir() + "/legacy-consumer-" + NewUuid() + ".log";
  absl::StatusOr<pid_t> consumer = SpawnChild(
      {"/usr/bin/python3", HIVE_CLUSTER_TESTS_DIR "/legacy_consumer.py", broker_->url(), "hive-device.device-state.#",
       "1"},
      {"PATH=/usr/bin:/bin"}, log_path);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  const absl::Time ready_by = absl::Now() + absl::Seconds(20);
  while (!absl::StrContains(ReadFile(log_path), "ready") && absl::Now() < ready_by) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_THAT(ReadFile(log_path), ::testing::HasSubstr("ready"));

  std::unique_ptr<TestDevice> device = ConnectDevice(2, Responder::Ack());
  device->Send(R"({"type":"device-state","state":"disk-low","message":"1 MiB left","diskFree":1048576})");
  std::optional<int> exit;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!(exit = PollExit(*consumer)).has_value() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  if (!exit.has_value()) kill(*consumer, SIGKILL);
  const std::string output = ReadFile(log_path);
  std::remove(log_path.c_str());
  ASSERT_EQ(exit, 0) << output;
  std::vector<std::string> lines = absl::StrSplit(output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << output;
  EXPECT_THAT(lines[1], ::testing::HasSubstr(absl::StrCat("\"routing_key\": \"hive-device.device-state.", account_,
                                                          ".", device->device_id(), "\"")));
  EXPECT_THAT(lines[1], ::testing::HasSubstr("\"state\": \"disk-low\""));
  EXPECT_THAT(lines[1], ::testing::HasSubstr("\"diskFree\": 1048576"));
  EXPECT_THAT(lines[1], ::testing::HasSubstr(device->device_id()));
}

}  // namespace
}  // namespace hive::integration

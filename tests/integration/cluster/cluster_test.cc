// Cluster mode end to end: a private rabbitmq-server and three hivebridge
// replicas on loopback, real WebSocket devices and gRPC clients.
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <httplib.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "bridge/bus/amqp_connection.h"
#include "bridge/bus/cluster_messages.h"
#include "bridge/bus/message_signer.h"
#include "bridge/uuid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/integration/support/bridge_metrics.h"
#include "tests/integration/support/bridge_process.h"
#include "tests/integration/support/child_process.h"
#include "tests/integration/support/cluster_fixture.h"
#include "tests/integration/support/event_stream.h"
#include "tests/integration/support/grpc_calls.h"
#include "tests/integration/support/rabbitmq_broker.h"
#include "tests/integration/support/raw_connection.h"
#include "tests/integration/support/test_device.h"
#include "tests/integration/support/wait_until.h"
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

// The fleet learns of a device through the broker; it takes milliseconds,
// but the machine may be busy.
constexpr absl::Duration kPropagation = absl::Seconds(10);

class ClusterTest : public ClusterFixture {
 protected:
  void SetUp() override { StartCluster(); }

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
};

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

// Trace context crosses the bus (docs/protocol.md#trace-context): the
// holder's line for a request routed to it names the caller's trace, as the
// caller's replica's audit line does, and with --trace-to-device the device's
// frame names the caller's replica's span for the call as its parent.
// With the HTTP/JSON gateway on every replica too: a gateway call goes
// through its replica's gRPC service, so it is routed like any other.
class ClusterTraceTest : public ClusterTest {
 protected:
  ClusterTraceTest() {
    extra_flags_ = {"--trace-to-device=true", "--http-listen=127.0.0.1:0", "--http-gateway-without-policy=true"};
  }
};

TEST_F(ClusterTraceTest, RoutedRequestCarriesTheCallersTraceToTheHolderAndItsDevice) {
  constexpr char kTraceId[] = "4bf92f3577b34da6a3ce929d0e0e4736";
  std::unique_ptr<TestDevice> device = ConnectDevice(1, Responder::Ack());
  AwaitHolder(2, device->device_id(), 1);
  SendDeviceRequestRequest request = RequestTo(device->device_id());
  request.set_request_id(NewUuid());
  grpc::ClientContext context;
  SetDeadline(context, absl::Seconds(10));
  context.AddMetadata("traceparent", absl::StrCat("00-", kTraceId, "-00f067aa0ba902b7-01"));
  SendDeviceRequestResponse response;
  const grpc::Status status = stub(2).SendDeviceRequest(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << replica(2).Log();
  EXPECT_EQ(response.status(), REQUEST_STATUS_ACKED);
  auto answered = context.GetServerInitialMetadata().find("traceparent");
  ASSERT_NE(answered, context.GetServerInitialMetadata().end());
  const std::string traceparent(answered->second.data(), answered->second.size());
  EXPECT_TRUE(absl::StartsWith(traceparent, absl::StrCat("00-", kTraceId, "-"))) << traceparent;

  const std::string holder_line = absl::StrCat("event=routed_request request=", request.request_id());
  ASSERT_TRUE(replica(1).WaitForLog(holder_line, kPropagation)) << replica(1).Log();
  ASSERT_TRUE(replica(2).WaitForLog(absl::StrCat("request=", request.request_id()), kPropagation)) << replica(2).Log();
  for (BridgeProcess* process : {&replica(1), &replica(2)}) {
    bool found = false;
    for (absl::string_view line : absl::StrSplit(process->Log(), '\n')) {
      if (!absl::StrContains(line, absl::StrCat("request=", request.request_id()))) continue;
      found = true;
      EXPECT_THAT(std::string(line), ::testing::HasSubstr(absl::StrCat("trace=", kTraceId)));
    }
    EXPECT_TRUE(found) << process->Log();
  }
  std::optional<std::string> frame = device->NextOfType("device-request", absl::Seconds(5));
  ASSERT_TRUE(frame.has_value()) << device->Transcript();
  EXPECT_THAT(*frame, ::testing::HasSubstr(absl::StrCat(R"("traceparent":")", traceparent, "\"")));

  // The same through replica 3's HTTP gateway: routed to the holder, the
  // trace continued and answered in the response's header.
  AwaitHolder(3, device->device_id(), 1);
  httplib::Client gateway("127.0.0.1", replica(3).http_port());
  gateway.set_read_timeout(10, 0);
  const httplib::Result answer =
      gateway.Post(absl::StrCat("/api/v1/devices/", device->device_id(), "/requests"),
                   {{"traceparent", absl::StrCat("00-", kTraceId, "-00f067aa0ba902b8-01")}},
                   R"({"command":{"raw":{"command":"Thing.do"}},"wait":"WAIT_MODE_ACK"})", "application/json");
  ASSERT_TRUE(answer) << httplib::to_string(answer.error());
  EXPECT_EQ(answer->status, 200) << answer->body << "\n" << replica(3).Log();
  EXPECT_THAT(answer->body, ::testing::HasSubstr(R"("status":"REQUEST_STATUS_ACKED")"));
  EXPECT_TRUE(absl::StartsWith(answer->get_header_value("traceparent"), absl::StrCat("00-", kTraceId, "-")))
      << answer->get_header_value("traceparent");
  EXPECT_TRUE(WaitUntil([&] { return device->received_requests() == 2; }, "the gateway's request reaches the device"))
      << device->Transcript();
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
  EXPECT_TRUE(WaitUntil(
      [&] {
        hive::bridge::v1::GetDeviceResponse response;
        return GetDevice(stub(3), on_1->device_id(), &response).ok() && !response.device().online();
      },
      "replica-3 no longer lists the closed device as online (its twin remembers it)"))
      << replica(3).Log();
}

TEST_F(ClusterTest, RequestForADeviceNoReplicaHoldsIsNotFoundAndOneThatConnectsInTimeSucceeds) {
  CallResult missing = SendRequest(stub(2), RequestTo(NewUuid()));
  EXPECT_EQ(missing.status.error_code(), grpc::StatusCode::NOT_FOUND) << missing;

  const std::string late = NewUuid();
  auto request = RequestTo(late);
  request.mutable_connect_timeout()->set_seconds(8);
  PendingCall call(stub(2), request, absl::Seconds(10));
  // A later call on the same channel that finds its device nowhere: by
  // then the first one is at replica 2, waiting.
  EXPECT_EQ(SendRequest(stub(2), RequestTo(NewUuid())).status.error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_FALSE(call.done()) << call.Wait(absl::ZeroDuration()).value();
  std::unique_ptr<TestDevice> device = ConnectDevice(1, Responder::Ack(), late);
  std::optional<CallResult> result = call.Wait(absl::Seconds(30));
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->status.ok()) << *result << "\n" << replica(2).Log();
  EXPECT_EQ(result->response.status(), REQUEST_STATUS_ACKED);
}

// Backend authorisation in cluster mode: a restricted caller on one replica
// reaches its own account's devices held by another, and gets for another
// account's device, wherever it is held, the answer an absent one gets.
class ClusterBackendAuthTest : public ClusterTest {
 protected:
  static constexpr char kBillingToken[] = "billing-token-0123456789";
  static constexpr char kOpsToken[] = "ops-token-0123456789abcdef";

  void SetUp() override {
    policy_path_ = ::testing::TempDir() + "/cluster-policy-" + NewUuid();
    std::ofstream(policy_path_) << "billing token:" << kBillingToken << " " << account_ << "\n"
                                << "ops token:" << kOpsToken << " *\n";
    extra_flags_ = {"--backend-policy-file=" + policy_path_};
    ClusterTest::SetUp();
  }
  void TearDown() override {
    ClusterTest::TearDown();
    std::remove(policy_path_.c_str());
  }

  grpc::Status Send(int index, const std::string& token, const SendDeviceRequestRequest& request) {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    SendDeviceRequestResponse response;
    return stub(index).SendDeviceRequest(&context, request, &response);
  }

  grpc::Status Get(int index, const std::string& token, const std::string& device_id,
                   GetDeviceResponse* response = nullptr) {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    hive::bridge::v1::GetDeviceRequest request;
    request.set_device_id(device_id);
    GetDeviceResponse ignored;
    return stub(index).GetDevice(&context, request, response == nullptr ? &ignored : response);
  }

  std::string policy_path_;
};

TEST_F(ClusterBackendAuthTest, AnotherAccountsDeviceOnAnotherReplicaIsAnsweredAsAbsent) {
  const std::string other_account = NewUuid();
  std::unique_ptr<TestDevice> mine = ConnectDevice(1, Responder::Ack());
  std::unique_ptr<TestDevice> theirs = ConnectDevice(1, Responder::Ack(), "", other_account);
  for (const TestDevice* device : {mine.get(), theirs.get()}) {
    ASSERT_TRUE(WaitUntil(
        [&] {
          GetDeviceResponse response;
          return Get(2, kOpsToken, device->device_id(), &response).ok() && response.device().replica() == "replica-1";
        },
        "replica-2 sees the device on replica-1"))
        << replica(2).Log();
  }
  // Routed through replica 2 to replica 1.
  EXPECT_TRUE(Send(2, kBillingToken, RequestTo(mine->device_id())).ok()) << replica(2).Log();

  const std::string absent = NewUuid();
  for (const std::string& device_id : {theirs->device_id(), absent}) {
    grpc::Status sent = Send(2, kBillingToken, RequestTo(device_id));
    EXPECT_EQ(sent.error_code(), grpc::StatusCode::NOT_FOUND) << device_id;
    EXPECT_EQ(sent.error_message(), "device " + device_id + " is not connected");
    grpc::Status got = Get(2, kBillingToken, device_id);
    EXPECT_EQ(got.error_code(), grpc::StatusCode::NOT_FOUND) << device_id;
    EXPECT_EQ(got.error_message(), "device " + device_id + " is not connected");
  }
  SendDeviceRequestRequest naming = RequestTo(theirs->device_id());
  naming.set_account_id(other_account);
  grpc::Status denied = Send(2, kBillingToken, naming);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(denied.error_message(), "caller \"billing\" may not act for account " + other_account);
  EXPECT_EQ(theirs->received_requests(), 0);
}

TEST_F(ClusterTest, SubscriberOnAnyReplicaSeesEveryDevicesEventsExactlyOnce) {
  EventStream stream(stub(3), AccountEvents("device-state"), EventStream::OnGap::kResume);
  MarkerTally tally(stream);
  std::unique_ptr<TestDevice> on_1 = ConnectDevice(1, Responder::Ack());
  std::unique_ptr<TestDevice> on_2 = ConnectDevice(2, Responder::Ack());
  // Each device's events reach replica 3's stream before counting starts.
  on_1->Send(NumberedEvent(kFirstBarrier));
  on_2->Send(NumberedEvent(kFirstBarrier + 1));
  ASSERT_TRUE(tally.ReadThrough(kFirstBarrier)) << replica(3).Log();
  ASSERT_TRUE(tally.ReadThrough(kFirstBarrier + 1)) << replica(3).Log();
  constexpr int kPerDevice = 100;
  for (int i = 0; i < kPerDevice; ++i) {
    on_1->Send(NumberedEvent(i));
    on_2->Send(NumberedEvent(kPerDevice + i));
  }
  // A last event from each device: a copy of an earlier one would come
  // before it, so once both have arrived every copy has been counted.
  on_1->Send(NumberedEvent(kFirstBarrier + 2));
  on_2->Send(NumberedEvent(kFirstBarrier + 3));
  EXPECT_TRUE(tally.ReadThrough(kFirstBarrier + 2)) << replica(3).Log();
  EXPECT_TRUE(tally.ReadThrough(kFirstBarrier + 3)) << replica(3).Log();
  std::map<int, int> seen = tally.counted();
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
  // The stream resumes at the start of the fleet's history, so it sees the
  // events whether they are sent before or after it is registered.
  EventStream on_2(stub(2), AccountEvents("device-state"));
  for (int i = 0; i < 5; ++i) device->Send(NumberedEvent(i));
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
    EXPECT_EQ(NumberOf(*event), i);
    EXPECT_EQ(event->sequence(), first[i].sequence());
  }
}

TEST_F(ClusterTest, KilledReplicasCallsFailFastAndItsDeviceIsServedAfterReconnectingElsewhere) {
  // The device acks only after a minute: the call is in flight when its replica dies.
  std::unique_ptr<TestDevice> device = ConnectDevice(1, Responder::AckAfter(absl::Minutes(1)));
  AwaitHolder(2, device->device_id(), 1);
  PendingCall call(stub(2), RequestTo(device->device_id()), absl::Seconds(40));
  // In flight: the device has it (and acks only after a minute).
  ASSERT_TRUE(WaitUntil([&] { return device->received_requests() == 1; }, "the device received the request"))
      << replica(1).Log();
  replica(1).Signal(SIGKILL);

  // Failing fast is UNAVAILABLE: the call's own deadline (40 s) would end
  // it DEADLINE_EXCEEDED, the device's ack (a minute) ACKED.
  std::optional<CallResult> failed = call.Wait(absl::Seconds(60));
  ASSERT_TRUE(failed.has_value()) << "the call outlived its own deadline";
  EXPECT_EQ(failed->status.error_code(), grpc::StatusCode::UNAVAILABLE) << *failed;

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
  EventStream stream(stub(3), AccountEvents("device-state"), EventStream::OnGap::kResume);
  MarkerTally tally(stream);
  std::atomic<int> sent{0};
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    while (!stop) {
      device->Send(NumberedEvent(sent));
      ++sent;
      absl::SleepFor(absl::Milliseconds(10));  // pacing: about 100 events/s, under the device's rate limit
    }
  });
  StopAndJoin joiner{stop, sender};
  // Events flow end to end before the broker goes.
  ASSERT_TRUE(tally.ReadThrough(10)) << replica(3).Log();
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
  // Events flow end to end again: one sent after readiness arrives.
  ASSERT_TRUE(tally.ReadThrough(sent + 10)) << replica(3).Log();
  stop = true;
  sender.join();
  // The device's last event: anything sent before it, or a copy, comes
  // before it, so once it has arrived everything has been counted.
  device->Send(NumberedEvent(kFirstBarrier));
  EXPECT_TRUE(tally.ReadThrough(kFirstBarrier)) << replica(3).Log();

  const std::map<int, int> seen = tally.counted();
  const int duplicates = tally.duplicates();
  // A burst after the broker's return can overflow the subscriber's queue
  // (a gap); the stream then resumes from replica 3's history.
  std::cout << "events sent=" << sent << " received=" << seen.size() << " duplicates=" << duplicates
            << " resumes after a gap=" << stream.resumes() << "\n";
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
  absl::StatusOr<std::unique_ptr<BridgeProcess>> replica = BridgeProcess::Start((*broker)->ReplicaFlags("early"));
  ASSERT_TRUE(replica.ok()) << replica.status();
  auto readyz = [&] {
    absl::StatusOr<RawConnection> http = RawConnection::Open((*replica)->ws_port());
    return http.ok() ? http->HttpGetStatus("/readyz", absl::Seconds(2)) : -1;
  };
  ASSERT_TRUE((*replica)->WaitForLog("event=bus_disconnected", absl::Seconds(10)));
  EXPECT_EQ(readyz(), 503);
  EXPECT_EQ(MetricValue(**replica, "hivebridge_ready"), 0u);
  EXPECT_THAT((*replica)->Log(), ::testing::Not(::testing::HasSubstr("guest:guest")));

  ASSERT_TRUE((*broker)->Restart().ok());
  ASSERT_TRUE((*replica)->WaitForLog("event=bus_connected", absl::Seconds(30))) << (*replica)->Log();
  EXPECT_TRUE(WaitUntil([&] { return readyz() == 200; }, "/readyz answers 200")) << (*replica)->Log();
  EXPECT_EQ(MetricValue(**replica, "hivebridge_ready"), 1u);
}

TEST_F(ClusterTest, LegacyConsumerReadsTheSeedShapedJsonFromTheEventsExchange) {
  const std::string log_path = ::testing::TempDir() + "/legacy-consumer-" + NewUuid() + ".log";
  absl::StatusOr<pid_t> consumer =
      SpawnChild({"/usr/bin/python3", std::string(HIVE_CLUSTER_TESTS_DIR) + "/legacy_consumer.py", broker_->url(),
                  "hive-device.device-state.#", "2"},
                 {"PATH=/usr/bin:/bin"}, log_path);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  const absl::Time ready_by = absl::Now() + absl::Seconds(20);
  while (!absl::StrContains(ReadFile(log_path), "ready") && absl::Now() < ready_by) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_THAT(ReadFile(log_path), ::testing::HasSubstr("ready"));

  std::unique_ptr<TestDevice> device = ConnectDevice(2, Responder::Ack());
  device->Send(R"({"type":"device-state","state":"disk-low","message":"1 MiB left","diskFree":1048576})");
  // A known type whose fields do not fit its schema reaches the consumer with
  // the device's fields exactly as sent (docs/protocol.md §4, §9).
  constexpr absl::string_view kMisfit =
      R"({"type":"device-state","state":{"disk":"low"},"disk_free_bytes":-5,"message":"m","big":18446744073709551615})";
  device->Send(std::string(kMisfit));
  std::optional<int> exit;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!(exit = PollExit(*consumer)).has_value() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  if (!exit.has_value()) kill(*consumer, SIGKILL);
  const std::string output = ReadFile(log_path);
  std::remove(log_path.c_str());
  ASSERT_EQ(exit, 0) << output;
  std::vector<std::string> lines = absl::StrSplit(output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << output;
  EXPECT_THAT(lines[1], ::testing::HasSubstr(absl::StrCat("\"routing_key\": \"hive-device.device-state.", account_, ".",
                                                          device->device_id(), "\"")));
  EXPECT_THAT(lines[1], ::testing::HasSubstr("\"state\": \"disk-low\""));
  EXPECT_THAT(lines[1], ::testing::HasSubstr("\"diskFree\": 1048576"));
  EXPECT_THAT(lines[1], ::testing::HasSubstr(device->device_id()));
  EXPECT_THAT(lines[1], ::testing::Not(::testing::HasSubstr("schema_error")));

  rapidjson::Document misfit;
  misfit.Parse(lines[2].c_str());
  ASSERT_FALSE(misfit.HasParseError()) << lines[2];
  ASSERT_TRUE(misfit.IsObject() && misfit.HasMember("body")) << lines[2];
  rapidjson::Document expected;
  expected.Parse(absl::StrCat(R"({"device":")", device->device_id(), R"(","account":")", account_,
                              R"(","service":"hive-device",)", kMisfit.substr(1))
                     .c_str());
  ASSERT_FALSE(expected.HasParseError());
  EXPECT_TRUE(misfit["body"] == expected) << lines[2];
  ASSERT_TRUE(misfit.HasMember("schema_error") && misfit["schema_error"].IsString()) << lines[2];
  EXPECT_STREQ(misfit["schema_error"].GetString(), "state: expected string, got object");
}

}  // namespace
}  // namespace hive::integration

namespace hive::integration {
namespace {

// Fleet memory in cluster mode (docs/architecture.md#fleet-memory): every
// replica's twins are built from the fleet's event stream, and a replica
// with a --state-dir reads that stream from its checkpoint, or from the
// start when it has none.
class ClusterTwinsTest : public ClusterTest {
 protected:
  void TearDown() override {
    ClusterTest::TearDown();
    if (!state_dir_.empty()) std::filesystem::remove_all(state_dir_);
  }

  // Starts replica `index` with a --state-dir of its own (kept across its
  // restarts).
  void StartReplicaWithState(int index) {
    if (state_dir_.empty()) {
      char pattern[] = "/tmp/hive-cluster-state-XXXXXX";
      ASSERT_NE(mkdtemp(pattern), nullptr);
      state_dir_ = pattern;
    }
    extra_flags_ = {"--state-dir=" + state_dir_};
    StartReplica(index);
    extra_flags_.clear();
    AwaitBusConnected(index);
  }

  // Waits until replica `index` shows `device_id`'s twin as `done` says.
  ::testing::AssertionResult AwaitTwin(int index, const std::string& device_id,
                                       const std::function<bool(const hive::bridge::v1::Device&)>& done,
                                       absl::string_view what) {
    return WaitUntil(
        [&] {
          GetDeviceResponse response;
          return GetDevice(stub(index), device_id, &response).ok() && done(response.device());
        },
        what);
  }

  std::string state_dir_;
};

TEST_F(ClusterTwinsTest, AReplicaStartedLaterLearnsTheFleetAndOneRestartedCatchesUpFromItsCheckpoint) {
  std::unique_ptr<TestDevice> device = ConnectDevice(1, std::nullopt);
  device->Send(R"({"type":"device-version","version":"5.0"})");
  // Another replica knows the twin of a device it never held.
  ASSERT_TRUE(AwaitTwin(
      2, device->device_id(), [](const hive::bridge::v1::Device& d) { return d.version() == "5.0" && d.online(); },
      "replica-2 has the twin of replica-1's device"))
      << replica(2).Log();
  device->Close(1000, "bye");
  ASSERT_TRUE(device->WaitClosed(absl::Seconds(5)));
  ASSERT_TRUE(AwaitTwin(
      2, device->device_id(), [](const hive::bridge::v1::Device& d) { return !d.online() && d.close_code() == 1000; },
      "replica-2's twin shows the device offline"))
      << replica(2).Log();

  // A fourth replica, started after all this with an empty store, reads the
  // stream from its first event.
  StartReplicaWithState(4);
  ASSERT_TRUE(AwaitTwin(
      4, device->device_id(),
      [](const hive::bridge::v1::Device& d) { return !d.online() && d.close_code() == 1000 && d.version() == "5.0"; },
      "the new replica learned the device's twin from the stream"))
      << replica(4).Log();
  EXPECT_THAT(replica(4).Log(), ::testing::HasSubstr("event=twin_stream_start from=first"));

  // Killed once its twins are stored, it resumes after its checkpoint and
  // still learns what happened while it was down.
  // Its store holds the twin once a flush took in every event it read.
  ASSERT_GE(AwaitMetricValue(replica(4), "hivebridge_twin_persisted_sequence", 1, kHangBound), 1u);
  replica(4).Signal(SIGKILL);
  ASSERT_TRUE(replica(4).Wait(absl::Seconds(10)).has_value());
  std::unique_ptr<TestDevice> back = ConnectDevice(1, std::nullopt, device->device_id());
  back->Send(R"({"type":"device-version","version":"6.0"})");
  ASSERT_TRUE(AwaitTwin(
      2, device->device_id(), [](const hive::bridge::v1::Device& d) { return d.version() == "6.0"; },
      "replica-2 saw the new version"))
      << replica(2).Log();
  StartReplicaWithState(4);
  EXPECT_TRUE(AwaitTwin(
      4, device->device_id(),
      [](const hive::bridge::v1::Device& d) { return d.online() && d.version() == "6.0" && d.close_code() == 0; },
      "the restarted replica caught up from its checkpoint"))
      << replica(4).Log();
  EXPECT_THAT(replica(4).Log(), ::testing::HasSubstr("event=twin_stream_start from=checkpoint"));
  EXPECT_THAT(replica(4).Log(), ::testing::HasSubstr("event=twins_loaded twins=1"));
}

// Queued requests in a cluster (issue #16): the fleet's queue is the log
// hive.queue.stream on the broker, every replica's view agrees, and only the
// replica holding the device delivers, once.
hive::bridge::v1::SendDeviceRequestRequest QueuedTo(const std::string& device_id, absl::Duration ttl) {
  hive::bridge::v1::SendDeviceRequestRequest request = RequestTo(device_id);
  request.set_request_id(NewUuid());
  request.mutable_queue_ttl()->set_seconds(absl::ToInt64Seconds(ttl));
  return request;
}

class ClusterQueueTest : public ClusterTest {
 protected:
  void ExpectQueued(int index, const hive::bridge::v1::SendDeviceRequestRequest& request) {
    CallResult call = SendRequest(stub(index), request);
    ASSERT_TRUE(call.status.ok()) << call << "\n" << replica(index).Log();
    EXPECT_EQ(call.response.status(), hive::bridge::v1::REQUEST_STATUS_QUEUED) << call;
    EXPECT_EQ(call.response.request_id(), request.request_id());
  }

  ::testing::AssertionResult AwaitStatus(int index, const std::string& request_id,
                                         hive::bridge::v1::RequestStatus status,
                                         absl::Duration timeout = kPropagation) {
    return WaitUntil(
        [&] { return GetRequest(stub(index), request_id).record.status() == status; },
        absl::StrCat("replica-", index, " says ", request_id, " is ", hive::bridge::v1::RequestStatus_Name(status)),
        timeout);
  }
};

TEST_F(ClusterQueueTest, QueuedOnOneReplicaReachesTheDeviceOnAnotherOnceInOrderAndEveryReplicaKnowsItsFate) {
  const std::string device_id = NewUuid();
  const auto first = QueuedTo(device_id, absl::Hours(1));
  const auto second = QueuedTo(device_id, absl::Hours(1));
  const auto cancelled = QueuedTo(device_id, absl::Hours(1));
  const auto brief = QueuedTo(device_id, absl::Seconds(1));
  for (const auto* request : {&first, &cancelled, &brief, &second}) ExpectQueued(1, *request);
  // The same request id queued again, through another replica, is the same
  // request; another request under its id is refused.
  CallResult retry = SendRequest(stub(2), first);
  ASSERT_TRUE(retry.status.ok()) << retry;
  EXPECT_EQ(retry.response.status(), hive::bridge::v1::REQUEST_STATUS_QUEUED) << retry;
  auto reused = QueuedTo(device_id, absl::Hours(1));
  reused.set_request_id(first.request_id());
  reused.mutable_command()->mutable_raw()->set_command("other-command");
  CallResult refused = SendRequest(stub(3), reused);
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << refused;

  // Cancelled through a third replica; every replica knows.
  RecordResult cancel = CancelRequest(stub(3), cancelled.request_id());
  ASSERT_TRUE(cancel.status.ok()) << cancel.status.error_message() << "\n" << replica(3).Log();
  EXPECT_EQ(cancel.record.status(), hive::bridge::v1::REQUEST_STATUS_CANCELLED);
  ASSERT_TRUE(AwaitStatus(2, cancelled.request_id(), hive::bridge::v1::REQUEST_STATUS_CANCELLED));
  // The brief one expires before the device comes.
  ASSERT_TRUE(AwaitStatus(3, brief.request_id(), hive::bridge::v1::REQUEST_STATUS_EXPIRED)) << replica(3).Log();

  // The replica that queued them dies: nothing was on its disk.
  replica(1).Signal(SIGKILL);
  ASSERT_TRUE(replica(1).Wait(absl::Seconds(10)).has_value());

  std::unique_ptr<TestDevice> device = ConnectDevice(2, Responder::Ack(), device_id);
  ASSERT_TRUE(AwaitStatus(3, second.request_id(), hive::bridge::v1::REQUEST_STATUS_ACKED)) << replica(2).Log();
  ASSERT_TRUE(AwaitStatus(3, first.request_id(), hive::bridge::v1::REQUEST_STATUS_ACKED)) << replica(2).Log();
  EXPECT_THAT(device->received_request_ids(), ::testing::ElementsAre(first.request_id(), second.request_id()))
      << device->Transcript();
  EXPECT_EQ(GetRequest(stub(2), cancelled.request_id()).record.status(), hive::bridge::v1::REQUEST_STATUS_CANCELLED);
  EXPECT_EQ(GetRequest(stub(2), brief.request_id()).record.status(), hive::bridge::v1::REQUEST_STATUS_EXPIRED);

  // Delivered, it can no longer be cancelled, from any replica.
  RecordResult late = CancelRequest(stub(3), first.request_id());
  EXPECT_EQ(late.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << late.status.error_message();
  EXPECT_THAT(late.status.error_message(), ::testing::HasSubstr("already handed to the device"));
  // A new queued request for the connected device goes to it through its
  // holder, once.
  const auto later = QueuedTo(device_id, absl::Hours(1));
  CallResult sent = SendRequest(stub(3), later);
  ASSERT_TRUE(sent.status.ok()) << sent << "\n" << replica(3).Log();
  EXPECT_EQ(sent.response.status(), hive::bridge::v1::REQUEST_STATUS_ACKED) << sent;
  EXPECT_EQ(TimesReceived(*device, later.request_id()), 1) << device->Transcript();
  EXPECT_EQ(TimesReceived(*device, first.request_id()), 1) << device->Transcript();
}

TEST_F(ClusterQueueTest, RequestItsHolderTookWithItIsUnconfirmedAndNeverSentAgain) {
  const std::string device_id = NewUuid();
  const auto handed = QueuedTo(device_id, absl::Hours(1));
  ExpectQueued(1, handed);
  // This device receives the request and never answers it.
  std::unique_ptr<TestDevice> silent = ConnectDevice(2, std::nullopt, device_id);
  ASSERT_TRUE(
      WaitUntil([&] { return TimesReceived(*silent, handed.request_id()) == 1; }, "the request arrives", kPropagation))
      << silent->Transcript() << replica(2).Log();
  ASSERT_TRUE(AwaitStatus(3, handed.request_id(), hive::bridge::v1::REQUEST_STATUS_SENT));
  // Its holder dies: the others take it for gone and the request is
  // UNCONFIRMED (the device may have it), never delivered again.
  replica(2).Signal(SIGKILL);
  ASSERT_TRUE(replica(2).Wait(absl::Seconds(10)).has_value());
  ASSERT_TRUE(AwaitStatus(3, handed.request_id(), hive::bridge::v1::REQUEST_STATUS_UNCONFIRMED)) << replica(3).Log();
  // Every replica applies the queue's log on its own: replica 1 may read the
  // release a moment after replica 3 did.
  ASSERT_TRUE(AwaitStatus(1, handed.request_id(), hive::bridge::v1::REQUEST_STATUS_UNCONFIRMED)) << replica(1).Log();
  EXPECT_THAT(GetRequest(stub(1), handed.request_id()).record.error(), ::testing::HasSubstr("not sent again"));

  const auto next = QueuedTo(device_id, absl::Hours(1));
  ExpectQueued(1, next);
  ASSERT_TRUE(silent->WaitClosed(absl::Seconds(5)));
  std::unique_ptr<TestDevice> again = ConnectDevice(3, Responder::Ack(), device_id);
  ASSERT_TRUE(AwaitStatus(1, next.request_id(), hive::bridge::v1::REQUEST_STATUS_ACKED)) << replica(3).Log();
  EXPECT_THAT(again->received_request_ids(), ::testing::ElementsAre(next.request_id())) << again->Transcript();
}

TEST_F(ClusterQueueTest, QueuedRequestOutlivesABrokerOutageAndIsDeliveredOnceItIsBack) {
  const std::string device_id = NewUuid();
  const auto queued = QueuedTo(device_id, absl::Hours(1));
  ExpectQueued(1, queued);
  ASSERT_TRUE(AwaitStatus(2, queued.request_id(), hive::bridge::v1::REQUEST_STATUS_QUEUED));

  ASSERT_TRUE(broker_->Stop().ok()) << broker_->Log();
  for (int i = 1; i <= kReplicas; ++i) {
    ASSERT_TRUE(replica(i).WaitForLog("event=bus_disconnected", absl::Seconds(30)));
  }
  // With the broker away nothing can be queued (the answer would not be
  // durable); the view still answers.
  CallResult refused = SendRequest(stub(3), QueuedTo(NewUuid(), absl::Hours(1)));
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAVAILABLE) << refused;
  EXPECT_EQ(GetRequest(stub(2), queued.request_id()).record.status(), hive::bridge::v1::REQUEST_STATUS_QUEUED);
  // The device connects meanwhile: its holder cannot claim the request yet.
  std::unique_ptr<TestDevice> device = ConnectDevice(2, Responder::Ack(), device_id);
  EXPECT_EQ(GetRequest(stub(2), queued.request_id()).record.status(), hive::bridge::v1::REQUEST_STATUS_QUEUED);

  ASSERT_TRUE(broker_->Restart().ok()) << broker_->Log();
  // The replicas reconnect with backoff (up to 5 s, jittered) first.
  ASSERT_TRUE(AwaitStatus(3, queued.request_id(), hive::bridge::v1::REQUEST_STATUS_ACKED, absl::Seconds(60)))
      << replica(2).Log();
  EXPECT_THAT(device->received_request_ids(), ::testing::ElementsAre(queued.request_id())) << device->Transcript();
}

// Someone who may publish on the broker's virtual host but is not a replica
// (here with the replicas' own credentials, the worst case short of the
// key): publishes with the project's AmqpConnection and reads a reply queue
// of its own.
class Forger {
 public:
  explicit Forger(const RabbitMqBroker& broker) {
    absl::StatusOr<AmqpAddress> address = ParseAmqpUrl(broker.url());
    EXPECT_TRUE(address.ok()) << address.status();
    absl::StatusOr<std::unique_ptr<AmqpConnection>> amqp = AmqpConnection::Open(*address, absl::Seconds(5), "forger");
    EXPECT_TRUE(amqp.ok()) << amqp.status();
    amqp_ = *std::move(amqp);
    AmqpConnection::QueueOptions own;
    own.exclusive = true;
    own.auto_delete = true;
    EXPECT_TRUE(amqp_->OpenChannel(kChannel).ok());
    EXPECT_TRUE(amqp_->DeclareQueue(kChannel, reply_queue_, own).ok());
    EXPECT_TRUE(amqp_->Consume(kChannel, reply_queue_, "forger", /*auto_ack=*/true).ok());
  }

  const std::string& reply_queue() const { return reply_queue_; }

  void Publish(absl::string_view exchange, absl::string_view routing_key, const AmqpMessage& message) {
    absl::Status published = amqp_->Publish(kChannel, exchange, routing_key, /*mandatory=*/false, message);
    ASSERT_TRUE(published.ok()) << published;
  }

  // The answers that reached the reply queue within `timeout`.
  std::vector<cluster::Answer> Replies(absl::Duration timeout) {
    std::vector<cluster::Answer> replies;
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      absl::StatusOr<std::optional<amqp_frame_t>> frame = amqp_->NextFrame(absl::Milliseconds(50));
      if (!frame.ok()) {
        ADD_FAILURE() << frame.status();
        break;
      }
      if (!frame->has_value() || (*frame)->frame_type != AMQP_FRAME_METHOD ||
          (*frame)->payload.method.id != AMQP_BASIC_DELIVER_METHOD) {
        continue;
      }
      absl::StatusOr<AmqpMessage> message = amqp_->ReadContent(kChannel);
      if (message.ok()) replies.push_back(cluster::DecodeAnswer(*message));
    }
    return replies;
  }

 private:
  static constexpr amqp_channel_t kChannel = 1;
  const std::string reply_queue_ = "forger.replies." + NewUuid();
  std::unique_ptr<AmqpConnection> amqp_;
};

std::string Rejected(absl::string_view kind, absl::string_view reason) {
  return absl::StrCat(R"(hivebridge_cluster_messages_rejected_total{kind=")", kind, R"(",reason=")", reason, R"("})");
}

std::unique_ptr<MessageSigner> SignerOf(absl::string_view key) {
  absl::StatusOr<std::unique_ptr<MessageSigner>> signer = MessageSigner::FromKey(key);
  EXPECT_TRUE(signer.ok()) << signer.status();
  return *std::move(signer);
}

// A request as the gRPC service hands one to the bus: with its request id
// (the service makes one when the caller gives none).
SendDeviceRequestRequest RequestWithId(absl::string_view device_id,
                                       hive::bridge::v1::WaitMode wait = hive::bridge::v1::WAIT_MODE_ACK) {
  SendDeviceRequestRequest request = RequestTo(device_id, wait);
  request.set_request_id(NewUuid());
  return request;
}

AmqpMessage ForgedRequest(const SendDeviceRequestRequest& request, const Forger& forger) {
  return cluster::EncodeRoutedRequest(request, absl::Seconds(5), "forged-" + NewUuid(), forger.reply_queue());
}

TEST_F(ClusterTest, ForgedRequestIsNeitherDeliveredNorAnswered) {
  std::unique_ptr<TestDevice> device = ConnectDevice(2, Responder::AckThenOk(R"({"done":true})"));
  AwaitHolder(1, device->device_id(), 2);
  Forger forger(*broker_);
  const SendDeviceRequestRequest forged = RequestWithId(device->device_id(), WAIT_MODE_RESULT);
  forger.Publish(cluster::kRequestsExchange, device->device_id(), ForgedRequest(forged, forger));

  EXPECT_EQ(AwaitMetricValue(replica(2), Rejected("request", "missing_signature"), 1, kPropagation), 1u)
      << replica(2).Log();
  EXPECT_TRUE(
      replica(2).WaitForLog("event=cluster_message_rejected kind=request reason=missing_signature", absl::Seconds(5)))
      << replica(2).Log();
  // The way from replica 1 to the device works, and only the fleet's own
  // request took it.
  CallResult routed = SendRequest(stub(1), RequestTo(device->device_id()));
  ASSERT_TRUE(routed.status.ok()) << routed << "\n" << replica(2).Log();
  EXPECT_EQ(TimesReceived(*device, forged.request_id()), 0) << device->Transcript();
  EXPECT_EQ(device->received_requests(), 1) << device->Transcript();
  EXPECT_THAT(forger.Replies(absl::Milliseconds(300)), ::testing::IsEmpty());
}

TEST_F(ClusterTest, RequestSignedWithAnotherKeyIsRefusedAndOneWithTheKeyIsServed) {
  std::unique_ptr<TestDevice> device = ConnectDevice(2, Responder::AckThenOk(R"({"done":true})"));
  AwaitHolder(1, device->device_id(), 2);
  Forger forger(*broker_);
  const std::unique_ptr<MessageSigner> ours = SignerOf(broker_->cluster_key());
  const std::unique_ptr<MessageSigner> other = SignerOf(absl::StrCat("another-cluster-", NewUuid()));
  const MessageAddress address{ClusterMessageKind::kRequest, cluster::kRequestsExchange, device->device_id()};

  // Another key under our key id: a signature that does not match.
  const SendDeviceRequestRequest bad = RequestWithId(device->device_id());
  AmqpMessage bad_message = ForgedRequest(bad, forger);
  other->Sign(address, bad_message);
  for (auto& [name, value] : bad_message.headers) {
    if (name == kKeyIdHeader) value = ours->key_id();
  }
  forger.Publish(cluster::kRequestsExchange, device->device_id(), bad_message);
  // Another key under its own id.
  const SendDeviceRequestRequest unknown = RequestWithId(device->device_id());
  AmqpMessage unknown_message = ForgedRequest(unknown, forger);
  other->Sign(address, unknown_message);
  forger.Publish(cluster::kRequestsExchange, device->device_id(), unknown_message);
  // Our key, but signed for another device: moved to this one.
  const SendDeviceRequestRequest moved = RequestWithId(device->device_id());
  AmqpMessage moved_message = ForgedRequest(moved, forger);
  ours->Sign({ClusterMessageKind::kRequest, cluster::kRequestsExchange, "another-device"}, moved_message);
  forger.Publish(cluster::kRequestsExchange, device->device_id(), moved_message);

  EXPECT_EQ(AwaitMetricValue(replica(2), Rejected("request", "bad_signature"), 2, kPropagation), 2u)
      << replica(2).Log();
  EXPECT_EQ(AwaitMetricValue(replica(2), Rejected("request", "unknown_key"), 1, kPropagation), 1u);
  EXPECT_EQ(MetricValue(replica(2), Rejected("request", "missing_signature")), 0u);

  // Whoever holds the key is inside the boundary (docs/SECURITY.md): the
  // same request signed with it is served, so the refusals above were the
  // signatures' doing.
  const SendDeviceRequestRequest keyed = RequestWithId(device->device_id(), WAIT_MODE_RESULT);
  AmqpMessage keyed_message = ForgedRequest(keyed, forger);
  ours->Sign(address, keyed_message);
  forger.Publish(cluster::kRequestsExchange, device->device_id(), keyed_message);
  std::vector<cluster::Answer> replies = forger.Replies(kPropagation);
  ASSERT_EQ(replies.size(), 1u) << replica(2).Log();
  EXPECT_TRUE(replies[0].outcome.ok()) << replies[0].outcome.status() << "\n" << replica(2).Log();
  EXPECT_EQ(TimesReceived(*device, keyed.request_id()), 1);
  for (const SendDeviceRequestRequest* refused : {&bad, &unknown, &moved}) {
    EXPECT_EQ(TimesReceived(*device, refused->request_id()), 0) << device->Transcript();
  }
}

TEST_F(ClusterTest, ForgedPresenceNeitherEvictsTheDeviceNorMovesIt) {
  std::unique_ptr<TestDevice> device = ConnectDevice(1, Responder::Ack());
  AwaitHolder(2, device->device_id(), 1);
  AwaitHolder(3, device->device_id(), 1);
  Forger forger(*broker_);
  hive::bridge::v1::Device newer;
  newer.set_device_id(device->device_id());
  newer.set_account_id(account_);
  newer.set_replica("forger");
  newer.mutable_connected_at()->set_seconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(1)));
  forger.Publish(cluster::kPresenceExchange, "",
                 cluster::EncodePresence({cluster::PresenceKind::kConnected, "forger", {newer}}));
  forger.Publish(cluster::kPresenceExchange, "",
                 cluster::EncodePresence({cluster::PresenceKind::kGoodbye, "replica-1", {}}));

  for (int i = 1; i <= kReplicas; ++i) {
    EXPECT_EQ(AwaitMetricValue(replica(i), Rejected("presence", "missing_signature"), 2, kPropagation), 2u)
        << replica(i).Log();
  }
  EXPECT_TRUE(device->open()) << device->close_code() << " " << device->close_reason();
  EXPECT_THAT(replica(1).Log(), ::testing::Not(::testing::HasSubstr("event=device_moved")));
  GetDeviceResponse held;
  ASSERT_TRUE(GetDevice(stub(2), device->device_id(), &held).ok());
  EXPECT_EQ(held.device().replica(), "replica-1");
  ListDevicesResponse listed;
  ASSERT_TRUE(ListDevices(stub(3), &listed).ok());
  std::vector<std::string> holders;
  for (const auto& listed_device : listed.devices()) {
    if (listed_device.device_id() == device->device_id()) holders.push_back(listed_device.replica());
  }
  EXPECT_THAT(holders, ::testing::ElementsAre("replica-1"));
  CallResult routed = SendRequest(stub(3), RequestTo(device->device_id()));
  EXPECT_TRUE(routed.status.ok()) << routed;
}

TEST_F(ClusterTest, ForgedEventsDoNotReachSubscribers) {
  EventStream stream(stub(2), AccountEvents("device-state"));
  std::unique_ptr<TestDevice> device = ConnectDevice(1, Responder::Ack());
  Forger forger(*broker_);
  DeviceEvent forged;
  forged.set_device_id(device->device_id());
  forged.set_account_id(account_);
  forged.set_service("hive-device");
  forged.set_type("device-state");
  forged.mutable_device_state()->set_state("forged");
  // As a replica encodes it (claiming to be one), and as JSON alone (another
  // publisher on the exchange).
  AmqpMessage as_replica = cluster::EncodeEvent(forged, NewUuid(), "replica-1");
  forger.Publish(cluster::kEventsExchange, cluster::EventRoutingKey(forged), as_replica);
  AmqpMessage json_only = cluster::EncodeEvent(forged, NewUuid(), "replica-1");
  json_only.headers.clear();
  forger.Publish(cluster::kEventsExchange, cluster::EventRoutingKey(forged), json_only);
  EXPECT_EQ(AwaitMetricValue(replica(2), Rejected("event", "missing_signature"), 2, kPropagation), 2u)
      << replica(2).Log();

  // A real event after them: the stream is in order, so the forged ones
  // would have come first.
  device->Send(NumberedEvent(7));
  std::vector<std::string> states;
  const absl::Time deadline = absl::Now() + kPropagation;
  while (absl::Now() < deadline) {
    std::optional<DeviceEvent> event = stream.NextMatching(OfType("device-state"), deadline - absl::Now());
    if (!event.has_value()) break;
    states.push_back(event->device_state().state());
    if (NumberOf(*event) == 7) break;
  }
  EXPECT_THAT(states, ::testing::ElementsAre("running")) << replica(2).Log();
}

TEST_F(ClusterTest, RefusedStreamMessageIsNotReadAgainAfterAReconnect) {
  EventStream stream(stub(2), AccountEvents("device-state"));
  std::unique_ptr<TestDevice> device = ConnectDevice(1, Responder::Ack());
  DeviceEvent forged;
  forged.set_device_id(device->device_id());
  forged.set_account_id(account_);
  forged.set_service("hive-device");
  forged.set_type("device-state");
  forged.mutable_device_state()->set_state("forged");
  Forger(*broker_).Publish(cluster::kEventsExchange, cluster::EventRoutingKey(forged),
                           cluster::EncodeEvent(forged, NewUuid(), "replica-1"));
  ASSERT_EQ(AwaitMetricValue(replica(2), Rejected("event", "missing_signature"), 1, kPropagation), 1u)
      << replica(2).Log();

  // The replica resumes the stream after the last message it read, the
  // refused one included.
  ASSERT_TRUE(broker_->Restart().ok()) << broker_->Log();
  ASSERT_TRUE(replica(2).WaitForLog("event=bus_disconnected", absl::Seconds(30)));
  device->Send(NumberedEvent(9));
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  bool arrived = false;
  while (!arrived && absl::Now() < deadline) {
    std::optional<DeviceEvent> event = stream.NextMatching(OfType("device-state"), deadline - absl::Now());
    if (!event.has_value()) break;
    EXPECT_NE(event->device_state().state(), "forged");
    arrived = NumberOf(*event) == 9;
  }
  ASSERT_TRUE(arrived) << replica(2).Log();
  EXPECT_EQ(MetricValue(replica(2), Rejected("event", "missing_signature")), 1u) << replica(2).Log();
}

TEST(ClusterStartTest, ReplicaWithoutAClusterKeyRefusesToStart) {
  // The broker is never reached: the configuration is refused first.
  const std::string bus = "--bus=amqp://guest:guest@127.0.0.1:1/%2f";
  absl::StatusOr<std::unique_ptr<BridgeProcess>> keyless = BridgeProcess::Start({bus, "--replica-id=keyless"});
  ASSERT_FALSE(keyless.ok());
  EXPECT_THAT(keyless.status().message(),
              ::testing::HasSubstr("(cluster mode) needs --cluster-key-file (the key replicas sign their messages "
                                   "with), or --cluster-insecure-unsigned=true to run without it"));

  const std::string short_key = ::testing::TempDir() + "/short-cluster-key-" + NewUuid();
  std::ofstream(short_key) << "too short\n";
  absl::StatusOr<std::unique_ptr<BridgeProcess>> weak =
      BridgeProcess::Start({bus, "--replica-id=weak", "--cluster-key-file=" + short_key});
  std::remove(short_key.c_str());
  ASSERT_FALSE(weak.ok());
  EXPECT_THAT(weak.status().message(), ::testing::HasSubstr("--cluster-key-file: " + short_key +
                                                            ": the cluster key has 9 bytes; at least 32 are needed"));

  absl::StatusOr<std::unique_ptr<BridgeProcess>> insecure =
      BridgeProcess::Start({bus, "--replica-id=insecure", "--cluster-insecure-unsigned=true"});
  ASSERT_TRUE(insecure.ok()) << insecure.status();
  EXPECT_THAT((*insecure)->Log(), ::testing::HasSubstr("event=cluster_messages_unsigned"));
}

// A cluster key rotation by rolling restarts (docs/SECURITY.md), caught
// half-way: replica-1 still on the old key only, replica-2 accepting the new
// one too, replica-3 signing with it. Neighbouring steps talk both ways; the
// first and the last do not, which is why the steps go in that order.
class ClusterKeyRotationTest : public ClusterTest {
 protected:
  void TearDown() override {
    ClusterTest::TearDown();
    for (const std::string& path : key_files_) std::remove(path.c_str());
  }
  // Written on first use, once the cluster's broker (and so its key) exists.
  std::vector<std::string> FlagsFor(int index) override {
    if (key_files_.empty()) {
      fresh_key_ = absl::StrCat("rotated-cluster-key-", NewUuid(), "-", NewUuid());
      const std::string old = broker_->cluster_key();
      key_files_ = {KeyFile({old}), KeyFile({old, fresh_key_}), KeyFile({fresh_key_, old})};
    }
    return {"--cluster-key-file=" + key_files_[index - 1]};
  }

  static std::string KeyFile(const std::vector<std::string>& keys) {
    const std::string path = ::testing::TempDir() + "/cluster-keys-" + NewUuid();
    std::ofstream(path) << absl::StrJoin(keys, "\n") << "\n";
    return path;
  }

  std::vector<std::string> key_files_;
  std::string fresh_key_;
};

TEST_F(ClusterKeyRotationTest, ReplicasOneStepApartServeEachOthersDevicesAndTwoStepsApartRefuseTheNewKey) {
  std::unique_ptr<TestDevice> on_old = ConnectDevice(1, Responder::Ack());
  std::unique_ptr<TestDevice> on_both = ConnectDevice(2, Responder::Ack());
  std::unique_ptr<TestDevice> on_new = ConnectDevice(3, Responder::Ack());
  // Each pair one step apart, both ways.
  for (const auto& [asker, device, holder] : std::vector<std::tuple<int, TestDevice*, int>>{
           {2, on_old.get(), 1}, {1, on_both.get(), 2}, {2, on_new.get(), 3}, {3, on_both.get(), 2}}) {
    AwaitHolder(asker, device->device_id(), holder);
    const CallResult result = SendRequest(stub(asker), RequestTo(device->device_id()));
    EXPECT_TRUE(result.status.ok()) << "replica-" << asker << " to replica-" << holder << ": " << result << "\n"
                                    << Logs();
  }
  // Two steps apart: replica-1 refuses what replica-3 signs with the new key,
  // counted, so it never learns of replica-3's device.
  EXPECT_GT(AwaitMetricValue(replica(1), Rejected("presence", "unknown_key"), 1, kPropagation), 0u) << Logs();
  EXPECT_EQ(HolderSeenBy(1, on_new->device_id()), "");
  EXPECT_EQ(MetricValue(replica(2), Rejected("presence", "unknown_key")), 0u);
  EXPECT_EQ(MetricValue(replica(3), Rejected("presence", "unknown_key")), 0u);
  // Replica-3 says which key signs and which it accepts.
  const std::string fresh_id = SignerOf(fresh_key_)->key_id();
  const std::string old_id = SignerOf(broker_->cluster_key())->key_id();
  EXPECT_THAT(replica(3).Log(), ::testing::HasSubstr(absl::StrCat("event=cluster_messages_signed key_id=", fresh_id,
                                                                  " accepted_key_ids=", fresh_id, ",", old_id)));
}

}  // namespace
}  // namespace hive::integration

// Cluster mode on a broker's bad days: a memory alarm (RabbitMQ blocks every
// publisher) and a frozen broker (SIGSTOP of its Erlang VM). Through both,
// each replica notices, says so (/readyz, hivebridge_ready, gRPC health,
// hivebridge_broker_state), keeps serving its own devices, answers calls for
// other replicas' devices UNAVAILABLE (never NOT_FOUND: the fleet still
// knows where they are), takes no replica for dead (nobody could be heard
// while the broker was away), and afterwards routes again and has delivered
// every event exactly once.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bridge/uuid.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_metrics.h"
#include "tests/integration/support/bridge_process.h"
#include "tests/integration/support/child_process.h"
#include "tests/integration/support/cluster_fixture.h"
#include "tests/integration/support/event_stream.h"
#include "tests/integration/support/grpc_calls.h"
#include "tests/integration/support/health_check.h"
#include "tests/integration/support/rabbitmq_broker.h"
#include "tests/integration/support/raw_connection.h"
#include "tests/integration/support/sanitizer_slowdown.h"
#include "tests/integration/support/simulated_fleet.h"
#include "tests/integration/support/test_device.h"
#include "tests/integration/support/wait_until.h"
#include "tests/unit/support/test_tokens.h"

namespace hive::integration {
namespace {

using grpc::health::v1::HealthCheckResponse;
using hive::bridge::v1::GetDeviceResponse;

// Longer than the replicas' 5 s liveness timeout: a replica that judged its
// peers while the broker was away would drop them.
constexpr absl::Duration kFaultHeld = absl::Seconds(7);
// A few seconds in practice; the machine may be busy.
constexpr absl::Duration kRecovery = absl::Seconds(60);

class ClusterBrokerHealthTest : public ClusterFixture {
 protected:
  void SetUp() override { StartCluster("event=bus_connected", kHangBound); }

  RawConnection::HttpResponse Readyz(int index) {
    absl::StatusOr<RawConnection> http = RawConnection::Open(replica(index).ws_port());
    if (!http.ok()) return {};
    return http->HttpGet("/readyz", absl::Seconds(5)).value_or(RawConnection::HttpResponse{});
  }

  HealthCheckResponse::ServingStatus Health(int index) {
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", replica(index).grpc_port()), grpc::InsecureChannelCredentials());
    return CheckHealth(channel, "").serving;
  }

  // The scenario both faults share. `begin` starts the fault; every replica
  // then logs `noticed`; `end` ends it.
  void RideOut(const std::function<absl::Status()>& begin, const std::string& noticed,
               const std::function<absl::Status()>& end) {
    std::unique_ptr<TestDevice> first = ConnectDevice(1);
    std::unique_ptr<TestDevice> second = ConnectDevice(2);
    ASSERT_TRUE(WaitUntil([&] { return HolderSeenBy(1, second->device_id()) == "replica-2"; }, "replica-1 sees d2"));
    ASSERT_TRUE(WaitUntil([&] { return HolderSeenBy(2, first->device_id()) == "replica-1"; }, "replica-2 sees d1"));

    // The first device's events, read on the third replica from the start.
    EventStream stream(stub(3), AccountEvents("device-state"), EventStream::OnGap::kResume);
    MarkerTally tally(stream);
    std::atomic<int> sent{0};
    std::atomic<bool> stop{false};
    std::thread sender([&] {
      while (!stop) {
        first->Send(NumberedEvent(sent.load()));
        ++sent;
        absl::SleepFor(absl::Milliseconds(20));  // pacing, under the device's rate limit
      }
    });
    StopAndJoin joiner{stop, sender};
    ASSERT_TRUE(tally.ReadThrough(5, kRecovery)) << Logs();

    ASSERT_TRUE(begin().ok()) << broker_->Log();
    for (int i = 1; i <= kReplicas; ++i) {
      ASSERT_TRUE(replica(i).WaitForLog(noticed, kHangBound)) << Logs();
    }
    // Not ready, and says why, on every channel.
    for (int i = 1; i <= kReplicas; ++i) {
      RawConnection::HttpResponse readyz = Readyz(i);
      EXPECT_EQ(readyz.status, 503) << readyz.body;
      EXPECT_THAT(readyz.body, ::testing::HasSubstr("not ready: message broker")) << readyz.body;
      EXPECT_EQ(MetricValue(replica(i), "hivebridge_ready"), 0u);
      EXPECT_EQ(MetricValue(replica(i), "hivebridge_broker_state{state=\"connected\"}"), 0u);
      EXPECT_TRUE(WaitUntil([&] { return Health(i) == HealthCheckResponse::NOT_SERVING; }, "gRPC health NOT_SERVING"));
    }

    // Held past the replicas' liveness timeout: own devices are served,
    // other replicas' are UNAVAILABLE, and the fleet still knows them.
    std::map<grpc::StatusCode, int> local;
    std::map<grpc::StatusCode, int> remote;
    const absl::Time held_until = absl::Now() + kFaultHeld;
    while (absl::Now() < held_until) {
      ++local[SendRequest(stub(1), RequestTo(first->device_id()), absl::Seconds(10)).status.error_code()];
      ++remote[SendRequest(stub(1), RequestTo(second->device_id()), absl::Seconds(10)).status.error_code()];
      ++remote[SendRequest(stub(2), RequestTo(first->device_id()), absl::Seconds(10)).status.error_code()];
      EXPECT_EQ(HolderSeenBy(3, second->device_id()), "replica-2");
    }
    std::cout << "during the fault: local OK " << local[grpc::StatusCode::OK] << " of " << local.size()
              << " codes; remote UNAVAILABLE " << remote[grpc::StatusCode::UNAVAILABLE] << "\n";
    EXPECT_THAT(local, ::testing::ElementsAre(::testing::Pair(grpc::StatusCode::OK, ::testing::Gt(0))));
    EXPECT_THAT(remote, ::testing::ElementsAre(::testing::Pair(grpc::StatusCode::UNAVAILABLE, ::testing::Gt(0))));

    ASSERT_TRUE(end().ok()) << broker_->Log();
    for (int i = 1; i <= kReplicas; ++i) {
      ASSERT_TRUE(WaitUntil([&] { return Readyz(i).status == 200; }, "ready again", kRecovery)) << Logs();
      EXPECT_EQ(MetricValue(replica(i), "hivebridge_broker_state{state=\"connected\"}"), 1u);
      EXPECT_TRUE(WaitUntil([&] { return Health(i) == HealthCheckResponse::SERVING; }, "gRPC health SERVING"));
    }
    // Routed again; until then UNAVAILABLE, never NOT_FOUND.
    std::map<grpc::StatusCode, int> after;
    grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
    const absl::Time routed_by = absl::Now() + kRecovery;
    do {
      code = SendRequest(stub(1), RequestTo(second->device_id()), absl::Seconds(10)).status.error_code();
      ++after[code];
    } while (code != grpc::StatusCode::OK && absl::Now() < routed_by);
    EXPECT_EQ(code, grpc::StatusCode::OK) << Logs();
    EXPECT_EQ(after.count(grpc::StatusCode::NOT_FOUND), 0u) << Logs();
    EXPECT_TRUE(SendRequest(stub(2), RequestTo(first->device_id())).status.ok());

    // Every event once: the last one, sent after all others, closes the tally.
    stop = true;
    sender.join();
    first->Send(NumberedEvent(kFirstBarrier));
    ASSERT_TRUE(tally.ReadThrough(kFirstBarrier, kRecovery)) << Logs();
    const int duplicates = tally.duplicates();
    const int received = static_cast<int>(tally.counted().size());
    std::cout << "events sent=" << sent << " received=" << received << " duplicates=" << duplicates << "\n";
    EXPECT_EQ(duplicates, 0);
    EXPECT_EQ(received, sent.load());
    for (int i = 1; i <= kReplicas; ++i) {
      EXPECT_THAT(replica(i).Log(), ::testing::Not(::testing::HasSubstr("event=replica_silent"))) << Logs();
    }
  }
};

TEST_F(ClusterBrokerHealthTest, MemoryAlarmMakesReplicasNotReadyWithoutDroppingAnyoneOrAnyEvent) {
  RideOut(
      [&] {
        return broker_->Ctl({"set_vm_memory_high_watermark", "0.0000001"});
      },
      "event=broker_blocked",
      [&] {
        return broker_->Ctl({"set_vm_memory_high_watermark", "0.4"});
      });
  for (int i = 1; i <= kReplicas; ++i) {
    EXPECT_TRUE(replica(i).WaitForLog("event=broker_unblocked", kHangBound)) << replica(i).Log();
  }
}

TEST_F(ClusterBrokerHealthTest, FrozenBrokerIsNoticedAsSilentAndReplicasRecoverWithoutDroppingAnyone) {
  RideOut([&] { return broker_->Freeze(); }, "event=broker_silent", [&] { return broker_->Thaw(); });
}

// The smallest budget, and no event rate limit, so that one device fills it
// while the broker blocks publishers.
class ClusterBufferBudgetTest : public ClusterBrokerHealthTest {
 protected:
  ClusterBufferBudgetTest() { extra_flags_ = {"--cluster-buffer-bytes=1MiB", "--device-event-rate=0"}; }
};

TEST_F(ClusterBufferBudgetTest, EventsOverTheBudgetWhileBlockedAreDroppedAndCountedAndTheRestDeliveredOnce) {
  constexpr int kEvents = 1000;
  // About 3 KiB each as held (the JSON body and the event again in a
  // header): some 350 fit in 1 MiB.
  const std::string pad(1000, 'x');
  std::unique_ptr<TestDevice> device = ConnectDevice(1);
  EventStream stream(stub(3), AccountEvents("device-state"), EventStream::OnGap::kResume);
  MarkerTally tally(stream);

  ASSERT_TRUE(broker_->Ctl({"set_vm_memory_high_watermark", "0.0000001"}).ok()) << broker_->Log();
  ASSERT_TRUE(replica(1).WaitForLog("event=broker_blocked", kHangBound)) << replica(1).Log();
  const uint64_t published_before = MetricValue(replica(1), "hivebridge_events_published_total");
  for (int i = 0; i < kEvents; ++i) {
    device->Send(absl::StrCat(R"({"type":"device-state","state":"running","marker":)", i, R"(,"pad":")", pad, "\"}"));
  }
  // Every event reached the bus, which held what fits and counted the rest.
  ASSERT_EQ(AwaitMetricValue(replica(1), "hivebridge_events_published_total", published_before + kEvents, kHangBound),
            published_before + kEvents)
      << replica(1).Log();
  const uint64_t dropped = MetricValue(replica(1), "hivebridge_events_dropped_total");
  EXPECT_GT(dropped, 0u);
  EXPECT_LT(dropped, static_cast<uint64_t>(kEvents));
  EXPECT_TRUE(replica(1).WaitForLog("reason=\"cluster buffer full\"", kHangBound)) << replica(1).Log();

  ASSERT_TRUE(broker_->Ctl({"set_vm_memory_high_watermark", "0.4"}).ok()) << broker_->Log();
  ASSERT_TRUE(WaitUntil([&] { return Readyz(1).status == 200; }, "ready again", kRecovery)) << replica(1).Log();
  // Sent after the others: once it is read, everything held has been.
  device->Send(NumberedEvent(kFirstBarrier));
  ASSERT_TRUE(tally.ReadThrough(kFirstBarrier, kRecovery)) << Logs();
  const int duplicates = tally.duplicates();
  const int received = static_cast<int>(tally.counted().size());
  std::cout << "events sent=" << kEvents << " held and delivered=" << received << " dropped=" << dropped << "\n";
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(static_cast<uint64_t>(received) + dropped, static_cast<uint64_t>(kEvents));
  // Nothing more was dropped once the broker took the held events.
  EXPECT_EQ(MetricValue(replica(1), "hivebridge_events_dropped_total"), dropped);
}

// The bindings of a storm of devices cost no broker round trip each, and
// heartbeats travel on a connection of their own, so nobody takes a replica
// for dead: 10,000 devices (2,000 under a sanitizer) connect at once, a
// third to each replica, and every replica lists them all online within
// kStormRoutable of the storm's start (the time it took is printed); a sample
// is routed through replicas that do not hold it.
TEST_F(ClusterBrokerHealthTest, ConnectStormAcrossTheReplicasIsRoutableEverywhereWithNoReplicaDropped) {
  // Under a sanitizer a smaller storm: there it looks for memory errors and
  // races, and ten thousand instrumented handshakes on two cores take minutes.
#if defined(__SANITIZE_THREAD__)
  // Under TSan on two cores even 2,000 simultaneous handshakes outlast the
  // bridge's handshake timeout, and the simulator's reconnects churn the
  // fleet (measured: 90 handshake timeouts, 299 lost connections, 1,849 of
  // 2,000 listed at the bound): the storm is scaled down further there.
  constexpr int kDevices = 500;
#else
  constexpr int kDevices = kSanitizerSlowdown == 1 ? 10'000 : 2'000;
#endif
  constexpr int kSampleEvery = 250;
  const absl::Duration kStormRoutable = absl::Seconds(30 * kSanitizerSlowdown);
  // Device i connects to replica 1 + i % kReplicas.
  std::vector<std::string> ids(kDevices);
  std::vector<std::string> token_files;
  for (int r = 0; r < kReplicas; ++r) {
    token_files.push_back(::testing::TempDir() + "/storm-tokens-" + NewUuid());
    std::FILE* tokens = std::fopen(token_files.back().c_str(), "w");
    ASSERT_NE(tokens, nullptr);
    for (int i = r; i < kDevices; i += kReplicas) {
      const std::string id = NewUuid();
      const std::string line = absl::StrCat(
          id, " ", account_, " ", testing::MintHs256(secret_, id, account_, absl::Now() + absl::Hours(1)), "\n");
      std::fputs(line.c_str(), tokens);
      ids[static_cast<size_t>(i)] = id;
    }
    std::fclose(tokens);
  }
  // Online devices replica `index` lists, every page.
  auto listed_online = [&](int index) {
    size_t count = 0;
    hive::bridge::v1::ListDevicesRequest request;
    request.set_presence(hive::bridge::v1::PRESENCE_ONLINE);
    request.set_page_size(1000);
    do {
      hive::bridge::v1::ListDevicesResponse page;
      grpc::ClientContext context;
      SetDeadline(context, absl::Seconds(10));
      if (!stub(index).ListDevices(&context, request, &page).ok()) return size_t{0};
      count += static_cast<size_t>(page.devices_size());
      request.set_page_token(page.next_page_token());
    } while (!request.page_token().empty());
    return count;
  };

  const absl::Time started = absl::Now();
  std::vector<std::unique_ptr<SimulatedFleet>> sims;
  for (int r = 0; r < kReplicas; ++r) {
    absl::StatusOr<std::unique_ptr<SimulatedFleet>> sim = SimulatedFleet::Start(
        replica(r + 1), {.on_request = "ack", .connect_rate = 100000, .tokens_file = token_files[r]});
    ASSERT_TRUE(sim.ok()) << sim.status();
    sims.push_back(*std::move(sim));
  }
  for (int i = 1; i <= kReplicas; ++i) {
    ASSERT_TRUE(WaitUntil([&] { return listed_online(i) == static_cast<size_t>(kDevices); },
                          absl::StrCat("replica-", i, " lists every device online"), kStormRoutable))
        << "replica-" << i << " lists " << listed_online(i) << "\n"
        << Logs();
  }
  std::cout << kDevices << " devices across " << kReplicas << " replicas, listed online by every replica "
            << absl::Now() - started << " after the storm began\n";
  // A sample, each through a replica that does not hold it.
  for (int i = 0; i < kDevices; i += kSampleEvery) {
    const int holder = 1 + i % kReplicas;
    CallResult result = SendRequest(stub(1 + holder % kReplicas), RequestTo(ids[static_cast<size_t>(i)]));
    EXPECT_TRUE(result.status.ok()) << result << "\n" << Logs();
  }
  for (int i = 1; i <= kReplicas; ++i) {
    EXPECT_THAT(replica(i).Log(), ::testing::Not(::testing::HasSubstr("event=replica_silent"))) << replica(i).Log();
  }
  for (const std::string& path : token_files) std::remove(path.c_str());
}

}  // namespace
}  // namespace hive::integration

// A replica's presence and heartbeats have a connection and a thread of
// their own (bridge/bus/amqp_bus.h): however stuck its data path is, its
// peers keep hearing it and it keeps hearing them. Here replica-1 reaches
// the broker through a proxy (stalling_proxy.py); its devices flood its data
// path with events, and then the proxy stops reading its data connection, so
// its writes there block, for longer than the replicas' 5 s liveness
// timeout. Throughout, every replica still sees every
// other's devices (a replica taken for silent is dropped with its devices),
// nobody logs event=replica_silent, the write watchdog cuts the stuck
// publish (hivebridge_bus_writes_cut_total), and once the proxy reads again
// requests route both ways.
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "bridge/uuid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_metrics.h"
#include "tests/integration/support/child_process.h"
#include "tests/integration/support/cluster_fixture.h"
#include "tests/integration/support/grpc_calls.h"
#include "tests/integration/support/simulated_fleet.h"
#include "tests/integration/support/test_device.h"
#include "tests/integration/support/wait_until.h"
#include "tests/unit/support/test_tokens.h"

namespace hive::integration {
namespace {

constexpr int kFloodDevices = 200;
// Per device, more than the replica carries: its data path is busy writing.
constexpr double kFloodEventRate = 200;
// Longer than the replicas' 5 s liveness timeout and the 5 s write watchdog.
constexpr absl::Duration kStall = absl::Seconds(7);
// A hang bound: the write watchdog cuts a stuck write 5 s after it blocked.
constexpr absl::Duration kStallBound = absl::Seconds(30);
constexpr absl::Duration kPropagation = absl::Seconds(30);

class ClusterHeartbeatIsolationTest : public ClusterFixture {
 protected:
  // No event rate limit on the flooded replica, so its devices fill its bus.
  std::vector<std::string> FlagsFor(int index) override {
    if (index == 1) return {"--device-event-rate=0"};
    return {};
  }

  // Replica-1 through the proxy, started on first use (the broker is up by then).
  std::string BusUrlFor(int index) override {
    const std::string direct = broker_->url();
    if (index != 1) return direct;
    if (proxy_port_ == 0) StartProxy();
    return absl::StrReplaceAll(direct,
                               {{absl::StrCat(":", broker_->port(), "/"), absl::StrCat(":", proxy_port_, "/")}});
  }

  void SetUp() override { StartCluster(); }

  void TearDown() override {
    ClusterFixture::TearDown();
    if (proxy_pid_ > 0) {
      kill(proxy_pid_, SIGKILL);
      const absl::Time reaped_by = absl::Now() + absl::Seconds(5);
      while (!PollExit(proxy_pid_).has_value() && absl::Now() < reaped_by) absl::SleepFor(absl::Milliseconds(10));
    }
    std::remove(proxy_log_.c_str());
  }

  void StartProxy() {
    proxy_log_ = ::testing::TempDir() + "/stalling-proxy-" + NewUuid() + ".log";
    absl::StatusOr<pid_t> proxy = SpawnChild(
        {"/usr/bin/python3", std::string(HIVE_CLUSTER_TESTS_DIR) + "/stalling_proxy.py", absl::StrCat(broker_->port())},
        {"PATH=/usr/bin:/bin"}, proxy_log_);
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_pid_ = *proxy;
    ASSERT_TRUE(WaitUntil([&] { return absl::StrContains(ReadFile(proxy_log_), "listening "); }, "the proxy listens"))
        << ReadFile(proxy_log_);
    const std::string line = ReadFile(proxy_log_);
    const size_t at = line.find("listening ") + 10;
    ASSERT_TRUE(absl::SimpleAtoi(line.substr(at, line.find('\n', at) - at), &proxy_port_)) << line;
  }

  // Which replica `index` says holds `device_id`; nullopt when the call
  // itself failed (a replica this busy may answer late).
  std::optional<std::string> Holder(int index, const std::string& device_id) {
    hive::bridge::v1::GetDeviceResponse response;
    const grpc::Status status = GetDevice(stub(index), device_id, &response);
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) return "";
    if (!status.ok()) return std::nullopt;
    return response.device().replica();
  }

  std::string TokensFile(int devices) {
    const std::string path = ::testing::TempDir() + "/flood-tokens-" + NewUuid();
    std::FILE* tokens = std::fopen(path.c_str(), "w");
    if (tokens == nullptr) return "";
    for (int i = 0; i < devices; ++i) {
      const std::string id = NewUuid();
      const std::string line = absl::StrCat(
          id, " ", account_, " ", testing::MintHs256(secret_, id, account_, absl::Now() + absl::Hours(1)), "\n");
      std::fputs(line.c_str(), tokens);
    }
    std::fclose(tokens);
    return path;
  }

  pid_t proxy_pid_ = 0;
  int proxy_port_ = 0;
  std::string proxy_log_;
};

TEST_F(ClusterHeartbeatIsolationTest, PeersKeepHearingAReplicaWhoseDataPathIsStuckAndItKeepsHearingThem) {
  std::unique_ptr<TestDevice> on_stuck = ConnectDevice(1);
  std::unique_ptr<TestDevice> on_second = ConnectDevice(2);
  std::unique_ptr<TestDevice> on_third = ConnectDevice(3);
  // Who asks, about which device, and who holds it.
  const std::vector<std::tuple<int, std::string, std::string>> fleet_views = {
      {2, on_stuck->device_id(), "replica-1"},
      {3, on_stuck->device_id(), "replica-1"},
      {1, on_second->device_id(), "replica-2"},
      {1, on_third->device_id(), "replica-3"},
  };
  for (const auto& [asked, device, holder] : fleet_views) {
    ASSERT_TRUE(WaitUntil([&] { return Holder(asked, device) == holder; }, "the fleet knows its devices", kPropagation))
        << Logs();
  }

  const std::string tokens = TokensFile(kFloodDevices);
  ASSERT_FALSE(tokens.empty());
  absl::StatusOr<std::unique_ptr<SimulatedFleet>> flood = SimulatedFleet::Start(
      replica(1), {.on_request = "ack", .connect_rate = 100000, .event_rate = kFloodEventRate, .tokens_file = tokens});
  ASSERT_TRUE(flood.ok()) << flood.status();
  ASSERT_EQ(kill(proxy_pid_, SIGUSR1), 0);

  // Throughout the stall, each answer about another replica's device names
  // its holder: nobody was dropped, either way.
  int answered = 0;
  const absl::Time stall_started = absl::Now();
  std::optional<uint64_t> delivered_midway;
  // The stall lasts kStall, and past it until the write watchdog has cut the
  // stuck connection (the kernel's socket buffers fill before a write blocks).
  // Read from its log: the flooded replica may answer /metrics too slowly
  // until the flood stops (its counter is checked then).
  auto write_cut = [&] { return absl::StrContains(replica(1).Log(), "event=bus_write_stuck"); };
  while (absl::Now() < stall_started + kStall || (!write_cut() && absl::Now() < stall_started + kStallBound)) {
    for (const auto& [asked, device, holder] : fleet_views) {
      const std::optional<std::string> seen = Holder(asked, device);
      if (!seen.has_value()) continue;
      ++answered;
      EXPECT_EQ(*seen, holder) << "replica-" << asked << " lost " << device << "\n" << Logs();
    }
    if (!delivered_midway.has_value() && absl::Now() > stall_started + kStall / 2) {
      delivered_midway = MetricValue(replica(2), "hivebridge_events_delivered_total");
    }
    absl::SleepFor(absl::Milliseconds(250));  // pacing the samples
  }
  // The data path was stuck: in the stall's second half none of replica-1's
  // flood reached the others (the only events about), though it kept coming.
  ASSERT_TRUE(delivered_midway.has_value());
  EXPECT_EQ(MetricValue(replica(2), "hivebridge_events_delivered_total"), *delivered_midway);
  // A publish into a socket nobody reads was cut, not left waiting forever.
  EXPECT_TRUE(write_cut()) << Logs();
  ASSERT_EQ(kill(proxy_pid_, SIGUSR2), 0);
  flood->reset();  // killed: its stats are of no use here
  EXPECT_GE(AwaitMetricValue(replica(1), "hivebridge_bus_writes_cut_total", 1, kPropagation), 1u);
  std::remove(tokens.c_str());
  std::cout << answered << " fleet answers during an " << kStall << " stall of replica-1's data connection\n";
  EXPECT_GT(answered, 0);
  EXPECT_GT(MetricValue(replica(1), "hivebridge_events_published_total"), static_cast<uint64_t>(kFloodDevices));

  for (int i = 1; i <= kReplicas; ++i) {
    EXPECT_THAT(replica(i).Log(), ::testing::Not(::testing::HasSubstr("event=replica_silent"))) << Logs();
  }
  // Requests route both ways once the data connection is made again.
  EXPECT_TRUE(WaitUntil([&] { return SendRequest(stub(2), RequestTo(on_stuck->device_id())).status.ok(); },
                        "replica-2 reaches replica-1's device", kPropagation))
      << Logs();
  EXPECT_TRUE(WaitUntil([&] { return SendRequest(stub(1), RequestTo(on_second->device_id())).status.ok(); },
                        "replica-1 reaches replica-2's device", kPropagation))
      << Logs();
}

}  // namespace
}  // namespace hive::integration

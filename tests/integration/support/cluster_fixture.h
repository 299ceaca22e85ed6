// tests/integration/support/cluster_fixture.h
// A cluster for one test: a private rabbitmq-server and kReplicas replicas of
// the real bridge on it (replica-1 .. replica-3, one HS256 secret for their
// devices, one cluster key), with what every cluster test reaches for:
// each replica, a stub on it, devices connected to it, and their logs.
//
//   class MyClusterTest : public ClusterFixture {
//     void SetUp() override { StartCluster(); }        // or StartCluster("event=jobs_caught_up")
//     std::vector<std::string> FlagsFor(int index) override;  // optional: per-replica flags
//                                      // (a --cluster-key-file there replaces the cluster's)
//   };
//   std::unique_ptr<TestDevice> device = ConnectDevice(1, Responder::Ack());
//   SendRequest(stub(2), RequestTo(device->device_id()));
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bridge/uuid.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_process.h"
#include "tests/integration/support/event_stream.h"
#include "tests/integration/support/grpc_calls.h"
#include "tests/integration/support/rabbitmq_broker.h"
#include "tests/integration/support/test_device.h"

namespace hive::integration {

class ClusterFixture : public ::testing::Test {
 protected:
  static constexpr int kReplicas = 3;

  // The broker, then every replica (StartReplica), then waits until each has
  // logged `ready` and has both its bus connections up (AwaitBusConnected).
  void StartCluster(absl::string_view ready = "event=bus_connected", absl::Duration timeout = absl::Seconds(30));
  // Until replica `index` has logged both its connections to the broker up
  // (the data path's and presence's, bridge/bus/amqp_bus.h) at least once.
  void AwaitBusConnected(int index, absl::Duration timeout = absl::Seconds(30));
  void TearDown() override;

  // Starts replica `index` (1-based; again after it was stopped or killed)
  // with the bus, its id, the cluster key, the devices' secret and
  // FlagsFor(index).
  void StartReplica(int index);
  // The flags a replica gets beyond those: extra_flags_ unless overridden.
  virtual std::vector<std::string> FlagsFor(int index);
  // The broker URL replica `index` connects to (--bus): the broker's own
  // unless overridden (a proxy in front of it).
  virtual std::string BusUrlFor(int index);

  BridgeProcess& replica(int index) { return *replicas_[index - 1]; }
  // A stub on the replica's shared channel; a restarted replica gets a new one.
  Stub& stub(int index);
  // Every replica's log, each under a header line.
  std::string Logs();

  // A device of account_ (or `account_id`) authenticated on replica `index`.
  std::unique_ptr<TestDevice> ConnectDevice(int index, std::optional<Responder> responder = Responder::Ack(),
                                            std::string device_id = "", std::string account_id = "");
  // Which replica `index` says holds `device_id` ("" when it knows none).
  std::string HolderSeenBy(int index, const std::string& device_id);

  // The account's events (of `type`, or every type) from the start of the
  // fleet's history (this test's broker is fresh), so a stream that opens
  // after the first events still sees them: the epoch is the fleet stream's,
  // alike on every replica.
  hive::bridge::v1::SubscribeEventsRequest AccountEvents(std::string type = "");

  const std::string secret_ = "cluster-test-secret-" + NewUuid();
  const std::string account_ = NewUuid();
  // Given to every replica by the default FlagsFor (set before StartCluster).
  std::vector<std::string> extra_flags_;
  std::unique_ptr<RabbitMqBroker> broker_;
  std::vector<std::unique_ptr<BridgeProcess>> replicas_;

 private:
  std::string secret_path_;
  std::map<const BridgeProcess*, std::unique_ptr<Stub>> stubs_;
};

// Events that carry a number, to count what arrived and how often: a
// device-state event with a numeric `marker` member (kept in
// DeviceEvent.extra; event_stream.h's MarkedEvent has a string one).
std::string NumberedEvent(int marker);
// The event's number; -1 for an event without one.
int NumberOf(const hive::bridge::v1::DeviceEvent& event);

// Sets `stop` and joins `thread` when it goes, so that every way out of a
// test (a failed ASSERT too) ends a thread the test started.
struct StopAndJoin {
  std::atomic<bool>& stop;
  std::thread& thread;
  ~StopAndJoin() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
};

// Numbers at or above this one are barriers and warm-ups, not counted events.
constexpr int kFirstBarrier = 1'000'000;

// How often each number of a stream's device-state events arrived.
class MarkerTally {
 public:
  explicit MarkerTally(EventStream& stream) : stream_(stream) {}

  // Reads device-state events, counting each, until `marker` has arrived;
  // false when the stream has none within `timeout` (a hang bound).
  bool ReadThrough(int marker, absl::Duration timeout = absl::Seconds(30));

  // The counted numbers (0 <= number < kFirstBarrier): how often each arrived.
  std::map<int, int> counted() const;
  // Arrivals of a counted number past its first.
  int duplicates() const;

 private:
  EventStream& stream_;
  std::map<int, int> seen_;
};

}  // namespace hive::integration

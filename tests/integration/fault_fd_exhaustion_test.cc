// Issue #9, out of file descriptors: a bridge whose RLIMIT_NOFILE is small
// gets more TCP connections than it can accept. It must neither crash nor
// spin retrying accept() (EMFILE leaves the connection in the listen
// backlog, so an immediate retry fails again at once), must keep serving
// the devices and gRPC clients it already has, and must accept again once
// descriptors are free.
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_metrics.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/process_stats.h"
#include "tests/integration/support/raw_connection.h"

namespace hive::integration {
namespace {

using ::testing::HasSubstr;

// Enough for the bridge's own descriptors (gRPC's, the log, the listeners)
// plus a few connections; the test fills the rest.
constexpr int kMaxOpenFiles = 64;
// Connections beyond what the limit can hold: they wait in the backlog.
constexpr int kConnections = kMaxOpenFiles + 16;
constexpr absl::Duration kTimeout = absl::Seconds(5);
// Long enough to tell an accept loop that retries at once (a core's worth
// of CPU) from one that backs off.
constexpr absl::Duration kCpuWindow = absl::Seconds(2);

class FdExhaustionTest : public BridgeTest {
 protected:
  ProcessStats Stats() {
    std::optional<ProcessStats> stats = ReadProcessStats(bridge().pid());
    if (!stats.has_value()) AbortTest(absl::StrCat("the bridge is gone\n", Log()));
    return *stats;
  }

  // Polls until the bridge holds every descriptor it may.
  bool AwaitOutOfDescriptors() {
    const absl::Time deadline = absl::Now() + kTimeout;
    while (Stats().open_fds < kMaxOpenFiles) {
      if (absl::Now() >= deadline) return false;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return true;
  }
};

TEST_F(FdExhaustionTest, BridgeOutOfDescriptorsNeitherSpinsNorStopsServingAndAcceptsAgainOnceSomeClose) {
  // Connections that never upgrade hold a descriptor until the handshake
  // timeout: a long one keeps them for the whole test.
  StartOwnBridge({"--handshake-timeout=60s", "--io-threads=2"}, {.max_open_files = kMaxOpenFiles});
  TestDevice& device = Connect({.responder = Responder::Ack()});
  EventStream& watcher = SubscribeTo(device);

  std::vector<RawConnection> hogs;
  for (int i = 0; i < kConnections; ++i) {
    absl::StatusOr<RawConnection> connection = RawConnection::Open(bridge().ws_port());
    ASSERT_TRUE(connection.ok()) << connection.status() << "\n" << Log();
    hogs.push_back(*std::move(connection));
  }
  ASSERT_TRUE(AwaitOutOfDescriptors()) << Stats().open_fds << " descriptors open\n" << Log();

  // Connections are still waiting in the backlog now: a busy retry would
  // burn a core the whole time.
  const absl::Duration cpu_before = Stats().cpu_time;
  absl::SleepFor(kCpuWindow);
  const absl::Duration busy = Stats().cpu_time - cpu_before;
  EXPECT_LT(busy, kCpuWindow / 4) << "the bridge spun while out of descriptors\n" << Log();
  EXPECT_TRUE(bridge().WaitForLog("event=accept_failed", kTimeout)) << Log();

  // What was connected keeps working.
  ExpectAcked(device);
  device.Send(MarkedEvent("device-state", "while-out-of-descriptors"));
  EXPECT_TRUE(watcher.NextMatching(WithMarker("while-out-of-descriptors"), kTimeout).has_value()) << Log();
  EXPECT_TRUE(ListDevices(stub()).ok()) << Log();

  // Descriptors freed, the bridge accepts again: the connections left in
  // the backlog, then new devices.
  hogs.clear();
  TestDevice& later = Connect({.responder = Responder::Ack()});
  ExpectAcked(later);
  EXPECT_GE(MetricValue(bridge(), "hivebridge_accept_errors_total"), 1u);
  EXPECT_THAT(Log(), HasSubstr("Too many open files"));
  EXPECT_TRUE(bridge().running());
}

}  // namespace
}  // namespace hive::integration

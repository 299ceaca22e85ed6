#include "bridge/bus/broker_health.h"

#include <sys/socket.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "tests/unit/support/fake_clock.h"

namespace hive {
namespace {

class BrokerHealthTest : public ::testing::Test {
 protected:
  testing::FakeClock clock_;
  BrokerHealth health_{clock_, nullptr};
};

TEST_F(BrokerHealthTest, IsDisconnectedUntilAConnectionIsSetUp) {
  EXPECT_EQ(health_.state(), BrokerState::kDisconnected);
  EXPECT_FALSE(health_.connected());
  EXPECT_FALSE(health_.dead());
  health_.Connected(absl::Seconds(2));
  EXPECT_EQ(health_.state(), BrokerState::kConnected);
  EXPECT_TRUE(health_.connected());
  health_.Disconnected();
  EXPECT_EQ(health_.state(), BrokerState::kDisconnected);
}

TEST_F(BrokerHealthTest, BlockedUntilUnblockedAndNotCarriedIntoTheNextConnection) {
  health_.Connected(absl::Seconds(2));
  health_.Blocked();
  EXPECT_EQ(health_.state(), BrokerState::kBlocked);
  EXPECT_FALSE(health_.connected());
  health_.Unblocked();
  EXPECT_EQ(health_.state(), BrokerState::kConnected);
  health_.Blocked();
  health_.Disconnected();
  health_.Connected(absl::Seconds(2));
  EXPECT_EQ(health_.state(), BrokerState::kConnected);
}

TEST_F(BrokerHealthTest, SilentAfterOneAndAHalfHeartbeatsAndDeadAfterTwo) {
  health_.Connected(absl::Seconds(2));
  clock_.Advance(absl::Milliseconds(2900));
  EXPECT_EQ(health_.state(), BrokerState::kConnected);
  clock_.Advance(absl::Milliseconds(200));
  EXPECT_EQ(health_.state(), BrokerState::kSilent);
  EXPECT_FALSE(health_.dead());
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(health_.dead());
  EXPECT_EQ(health_.silent_for(), absl::Milliseconds(4100));
}

TEST_F(BrokerHealthTest, SilenceOutranksBlockingAndEndsWhenTheBrokerIsHeard) {
  health_.Connected(absl::Seconds(2));
  health_.Blocked();
  clock_.Advance(absl::Seconds(1));
  health_.Heard();
  clock_.Advance(absl::Milliseconds(2500));
  EXPECT_EQ(health_.state(), BrokerState::kBlocked);
  clock_.Advance(absl::Milliseconds(600));
  EXPECT_EQ(health_.state(), BrokerState::kSilent);
  health_.Heard();
  EXPECT_EQ(health_.state(), BrokerState::kBlocked);
}

TEST_F(BrokerHealthTest, WithoutHeartbeatsSilenceIsNeverJudged) {
  health_.Connected(absl::ZeroDuration());
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(health_.state(), BrokerState::kConnected);
  EXPECT_FALSE(health_.dead());
}

TEST(BrokerHealthWritesTest, AWriteStuckForAHeartbeatIsSilentAndForTwoDead) {
  testing::FakeClock clock;
  // The watchdog's own limit is far off: only the health's judgement counts.
  WriteWatchdog watchdog(clock, absl::Hours(1));
  BrokerHealth health(clock, &watchdog);
  health.Connected(absl::Seconds(2));
  watchdog.Arm(-1);
  clock.Advance(absl::Milliseconds(1500));
  health.Heard();
  EXPECT_EQ(health.state(), BrokerState::kConnected);
  clock.Advance(absl::Milliseconds(600));
  health.Heard();
  EXPECT_EQ(health.state(), BrokerState::kSilent);
  clock.Advance(absl::Milliseconds(1000));
  health.Heard();
  EXPECT_FALSE(health.dead());
  clock.Advance(absl::Milliseconds(1000));
  health.Heard();
  EXPECT_TRUE(health.dead());
  watchdog.Disarm();
  EXPECT_EQ(health.state(), BrokerState::kConnected);
}

TEST(WorseBrokerState, ReplicaIsConnectedOnlyWhenBothConnectionsAreAndOtherwiseSaysTheWorse) {
  constexpr BrokerState kConnected = BrokerState::kConnected;
  constexpr BrokerState kBlocked = BrokerState::kBlocked;
  constexpr BrokerState kSilent = BrokerState::kSilent;
  constexpr BrokerState kDisconnected = BrokerState::kDisconnected;
  EXPECT_EQ(WorseBrokerState(kConnected, kConnected), kConnected);
  EXPECT_EQ(WorseBrokerState(kConnected, kBlocked), kBlocked);
  EXPECT_EQ(WorseBrokerState(kSilent, kConnected), kSilent);
  EXPECT_EQ(WorseBrokerState(kBlocked, kSilent), kSilent);
  EXPECT_EQ(WorseBrokerState(kDisconnected, kBlocked), kDisconnected);
  EXPECT_EQ(WorseBrokerState(kSilent, kDisconnected), kDisconnected);
}

}  // namespace
}  // namespace hive

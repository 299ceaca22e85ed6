#include "bridge/bus/fleet_directory.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/support/fake_clock.h"

namespace hive {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

Device On(const std::string& replica, const std::string& device_id, const std::string& account = "acc") {
  Device device;
  device.set_device_id(device_id);
  device.set_account_id(account);
  device.set_replica(replica);
  return device;
}

std::string HolderOf(FleetDirectory& fleet, const std::string& device_id) {
  std::shared_ptr<DeviceLink> link = fleet.devices().Find(device_id);
  return link == nullptr ? "" : link->Describe().replica();
}

class FleetDirectoryTest : public ::testing::Test {
 protected:
  testing::FakeClock clock_;
  FleetDirectory fleet_{clock_};
};

TEST_F(FleetDirectoryTest, ListsDevicesOfEveryReplicaWithTheirHolder) {
  fleet_.Connected(On("a", "d1"));
  fleet_.Connected(On("b", "d2"));
  EXPECT_EQ(HolderOf(fleet_, "d1"), "a");
  EXPECT_EQ(HolderOf(fleet_, "d2"), "b");
  EXPECT_EQ(fleet_.devices().size(), 2u);
}

TEST_F(FleetDirectoryTest, DeviceMovingToAnotherReplicaIsNotRemovedByTheOldOnesLateGoodbye) {
  fleet_.Connected(On("a", "d1"));
  fleet_.Connected(On("b", "d1"));
  fleet_.Disconnected("d1", "a");
  EXPECT_EQ(HolderOf(fleet_, "d1"), "b");
  fleet_.Disconnected("d1", "b");
  EXPECT_EQ(fleet_.devices().Find("d1"), nullptr);
}

TEST_F(FleetDirectoryTest, SnapshotReplacesWhatTheReplicaHeld) {
  fleet_.Connected(On("a", "d1"));
  fleet_.Connected(On("a", "d2"));
  fleet_.Replace("a", {On("a", "d2"), On("a", "d3")});
  EXPECT_EQ(fleet_.devices().Find("d1"), nullptr);
  EXPECT_EQ(HolderOf(fleet_, "d2"), "a");
  EXPECT_EQ(HolderOf(fleet_, "d3"), "a");
}

TEST_F(FleetDirectoryTest, SilentReplicaIsDroppedWithItsDevicesOnly) {
  fleet_.Connected(On("a", "d1"));
  fleet_.Connected(On("b", "d2"));
  clock_.Advance(absl::Seconds(4));
  fleet_.Heard("b");
  clock_.Advance(absl::Seconds(2));
  EXPECT_THAT(fleet_.DropSilent(absl::Seconds(5), "self"), ElementsAre("a"));
  EXPECT_EQ(fleet_.devices().Find("d1"), nullptr);
  EXPECT_EQ(HolderOf(fleet_, "d2"), "b");
  EXPECT_THAT(fleet_.DropSilent(absl::Seconds(5), "self"), IsEmpty());
}

TEST_F(FleetDirectoryTest, AReplicaNeverDropsItself) {
  fleet_.Connected(On("self", "d1"));
  clock_.Advance(absl::Seconds(60));
  EXPECT_THAT(fleet_.DropSilent(absl::Seconds(5), "self"), IsEmpty());
  EXPECT_EQ(HolderOf(fleet_, "d1"), "self");
}

TEST_F(FleetDirectoryTest, RestartedClocksDoNotCountTheBrokersOutageAgainstAnyone) {
  fleet_.Connected(On("a", "d1"));
  fleet_.Connected(On("b", "d2"));
  // The broker was away for 20 s: nobody could be heard.
  clock_.Advance(absl::Seconds(20));
  fleet_.RestartClocks(absl::Seconds(3));
  clock_.Advance(absl::Seconds(7));
  EXPECT_THAT(fleet_.DropSilent(absl::Seconds(5), "self"), IsEmpty());
  fleet_.Heard("b");
  clock_.Advance(absl::Seconds(2));
  EXPECT_THAT(fleet_.DropSilent(absl::Seconds(5), "self"), ElementsAre("a"));
  EXPECT_EQ(HolderOf(fleet_, "d2"), "b");
}

TEST_F(FleetDirectoryTest, HeardWithinTellsWhetherAReplicaWasHeardLately) {
  EXPECT_FALSE(fleet_.HeardWithin("a", absl::Seconds(2)));
  fleet_.Heard("a");
  clock_.Advance(absl::Seconds(2));
  EXPECT_TRUE(fleet_.HeardWithin("a", absl::Seconds(2)));
  clock_.Advance(absl::Seconds(1));
  EXPECT_FALSE(fleet_.HeardWithin("a", absl::Seconds(2)));
  fleet_.RestartClocks(absl::Seconds(5));
  clock_.Advance(absl::Seconds(6));
  EXPECT_TRUE(fleet_.HeardWithin("a", absl::Seconds(2)));
}

TEST_F(FleetDirectoryTest, HeardTellsWhenAReplicaIsNewOrBackAfterBeingDropped) {
  EXPECT_TRUE(fleet_.Heard("a"));
  EXPECT_FALSE(fleet_.Heard("a"));
  fleet_.Drop("a");
  EXPECT_TRUE(fleet_.Heard("a"));
}

TEST_F(FleetDirectoryTest, CallerWaitingForADeviceIsWokenWhenAnyReplicaAnnouncesIt) {
  std::string woken_by;
  ASSERT_TRUE(fleet_.devices()
                  .AwaitConnect("d9", clock_.Now() + absl::Seconds(5),
                                [&](const std::shared_ptr<DeviceLink>& link) {
                                  woken_by = link == nullptr ? "deadline" : link->Describe().replica();
                                })
                  .ok());
  fleet_.Connected(On("c", "d9"));
  EXPECT_EQ(woken_by, "c");
}

TEST_F(FleetDirectoryTest, AnnouncedDeviceRefusesFramesSinceRequestsAreRouted) {
  fleet_.Connected(On("a", "d1"));
  absl::Status sent = fleet_.devices().Find("d1")->SendRequest("{}", "r-1", 0);
  EXPECT_EQ(sent.code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace hive

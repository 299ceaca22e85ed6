#include "bridge/bus/presence_tracker.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bridge/bus/cluster_messages.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/bus/fake_local_devices.h"
#include "tests/unit/support/fake_clock.h"

namespace hive {
namespace {

using testing::DeviceOn;

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr char kSelf[] = "replica-1";
constexpr char kKey[] = "0123456789abcdef0123456789abcdef-cluster";

std::string HolderOf(FleetDirectory& fleet, const std::string& device_id) {
  std::shared_ptr<DeviceLink> link = fleet.devices().Find(device_id);
  return link == nullptr ? "" : link->Describe().replica();
}

// The tracker's reading of the presence exchange, without a broker: what it
// makes of each kind of announcement.
class PresenceTrackerTest : public ::testing::Test {
 protected:
  explicit PresenceTrackerTest(std::shared_ptr<const MessageSigner> signer = nullptr)
      : signatures_(std::move(signer), clock_),
        tracker_(
            {kSelf, absl::Seconds(1), absl::Seconds(5)}, clock_, signatures_, local_, fleet_,
            [this](const std::string& replica, const absl::Status& why) { gone_.emplace_back(replica, why.code()); },
            [this] { ++snapshots_wanted_; }) {}

  // `presence` as it arrives, signed under `signer` when given.
  void Hear(const cluster::Presence& presence, const MessageSigner* signer = nullptr) {
    AmqpDelivery delivery;
    delivery.channel = 1;
    delivery.consumer = "presence";
    delivery.exchange = std::string(cluster::kPresenceExchange);
    delivery.message = cluster::EncodePresence(presence);
    if (signer != nullptr) signer->Sign({ClusterMessageKind::kPresence, delivery.exchange, ""}, delivery.message);
    ASSERT_TRUE(tracker_.OnDelivery(std::move(delivery)).ok());
  }

  testing::FakeClock clock_;
  ClusterSignatures signatures_;
  testing::FakeLocalDevices local_;
  FleetDirectory fleet_{clock_};
  std::vector<std::pair<std::string, absl::StatusCode>> gone_;
  int snapshots_wanted_ = 0;
  PresenceTracker tracker_;
};

TEST_F(PresenceTrackerTest, ConnectedAndDisconnectedDevicesOfAnotherReplicaAreInTheFleet) {
  Hear({cluster::PresenceKind::kConnected, "replica-2", {DeviceOn("replica-2", "d1")}});
  EXPECT_EQ(HolderOf(fleet_, "d1"), "replica-2");
  EXPECT_TRUE(fleet_.Alive("replica-2"));
  Hear({cluster::PresenceKind::kDisconnected, "replica-2", {DeviceOn("replica-2", "d1")}});
  EXPECT_EQ(HolderOf(fleet_, "d1"), "");
}

TEST_F(PresenceTrackerTest, SnapshotReplacesWhatTheReplicaHeld) {
  Hear({cluster::PresenceKind::kConnected, "replica-2", {DeviceOn("replica-2", "d1")}});
  Hear({cluster::PresenceKind::kSnapshot, "replica-2", {DeviceOn("replica-2", "d2"), DeviceOn("replica-2", "d3")}});
  EXPECT_EQ(HolderOf(fleet_, "d1"), "");
  EXPECT_EQ(HolderOf(fleet_, "d2"), "replica-2");
  EXPECT_EQ(HolderOf(fleet_, "d3"), "replica-2");
}

TEST_F(PresenceTrackerTest, NewerConnectionOnAnotherReplicaEvictsTheOlderOneHereButNotTheReverse) {
  local_.Connect(DeviceOn(kSelf, "moved", 100));
  local_.Connect(DeviceOn(kSelf, "stays", 300));
  Hear({cluster::PresenceKind::kConnected, "replica-2", {DeviceOn("replica-2", "moved", 200)}});
  Hear({cluster::PresenceKind::kSnapshot, "replica-3", {DeviceOn("replica-3", "stays", 200)}});
  EXPECT_THAT(local_.replaced, ElementsAre("moved"));
}

TEST_F(PresenceTrackerTest, OwnAnnouncementsNeverEvictOwnDevices) {
  local_.Connect(DeviceOn(kSelf, "d1", 100));
  Hear({cluster::PresenceKind::kConnected, kSelf, {DeviceOn(kSelf, "d1", 200)}});
  Hear({cluster::PresenceKind::kSnapshot, kSelf, {DeviceOn(kSelf, "d1", 200)}});
  EXPECT_THAT(local_.replaced, IsEmpty());
  EXPECT_EQ(HolderOf(fleet_, "d1"), kSelf);
}

TEST_F(PresenceTrackerTest, HelloFromAnotherReplicaWantsThisReplicasSnapshotButItsOwnDoesNot) {
  Hear({cluster::PresenceKind::kHello, kSelf, {}});
  EXPECT_EQ(snapshots_wanted_, 0);
  Hear({cluster::PresenceKind::kHello, "replica-2", {}});
  EXPECT_EQ(snapshots_wanted_, 1);
}

TEST_F(PresenceTrackerTest, GoodbyeDropsTheReplicaWithItsDevicesAndFailsItsCallsUnavailable) {
  Hear({cluster::PresenceKind::kConnected, "replica-2", {DeviceOn("replica-2", "d1")}});
  Hear({cluster::PresenceKind::kGoodbye, "replica-2", {}});
  EXPECT_EQ(HolderOf(fleet_, "d1"), "");
  EXPECT_FALSE(fleet_.Alive("replica-2"));
  EXPECT_THAT(gone_, ElementsAre(Pair("replica-2", absl::StatusCode::kUnavailable)));
}

TEST_F(PresenceTrackerTest, OwnGoodbyeTakesNobodyForGone) {
  Hear({cluster::PresenceKind::kGoodbye, kSelf, {}});
  EXPECT_THAT(gone_, IsEmpty());
}

TEST_F(PresenceTrackerTest, UndecodablePresenceIsIgnored) {
  AmqpDelivery delivery;
  delivery.channel = 1;
  delivery.consumer = "presence";
  delivery.message.body = "not presence";
  EXPECT_TRUE(tracker_.OnDelivery(std::move(delivery)).ok());
  EXPECT_EQ(fleet_.devices().size(), 0u);
}

class SignedPresenceTrackerTest : public PresenceTrackerTest {
 protected:
  SignedPresenceTrackerTest() : PresenceTrackerTest(Signer()) {}

  static std::shared_ptr<const MessageSigner> Signer() { return *MessageSigner::FromKey(kKey); }
};

TEST_F(SignedPresenceTrackerTest, UnsignedPresenceNeitherEvictsNorMovesNorDropsAnyoneAndIsCounted) {
  local_.Connect(DeviceOn(kSelf, "d1", 100));
  Hear({cluster::PresenceKind::kConnected, "forger", {DeviceOn("forger", "d1", 200)}});
  Hear({cluster::PresenceKind::kGoodbye, "replica-2", {}});
  EXPECT_THAT(local_.replaced, IsEmpty());
  EXPECT_EQ(HolderOf(fleet_, "d1"), "");
  EXPECT_THAT(gone_, IsEmpty());
  const RejectedCounts rejected = signatures_.rejected();
  EXPECT_EQ(rejected[static_cast<size_t>(ClusterMessageKind::kPresence)]
                    [static_cast<size_t>(SignatureRejection::kMissingSignature)],
            2u);
}

TEST_F(SignedPresenceTrackerTest, SignedPresenceIsActedOn) {
  const std::shared_ptr<const MessageSigner> signer = Signer();
  local_.Connect(DeviceOn(kSelf, "d1", 100));
  Hear({cluster::PresenceKind::kConnected, "replica-2", {DeviceOn("replica-2", "d1", 200)}}, signer.get());
  EXPECT_THAT(local_.replaced, ElementsAre("d1"));
  EXPECT_EQ(HolderOf(fleet_, "d1"), "replica-2");
}

}  // namespace
}  // namespace hive

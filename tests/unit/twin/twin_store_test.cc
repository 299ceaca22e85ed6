// The twin store fed by a real EventHub (its observer hook): every field
// after connect, events, disconnect and reconnect; what is kept by type;
// the limits, which forget the longest-offline twins and never a connected
// one; stable paging.
#include "bridge/twin/twin_store.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "bridge/event_bytes.h"
#include "bridge/event_hub.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/unit/support/fake_clock.h"

namespace hive {
namespace {

using google::protobuf::util::MessageDifferencer;
using google::protobuf::util::TimeUtil;
using hive::bridge::v1::DeviceEvent;
using ::hive::testing::FakeClock;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kAccount[] = "acc-1";

absl::Time TimeOf(const google::protobuf::Timestamp& at) {
  return absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(at));
}

class TwinStoreTest : public ::testing::Test {
 protected:
  explicit TwinStoreTest(TwinStore::Options options = Defaults()) : twins_(std::move(options)) {}

  static TwinStore::Options Defaults() {
    TwinStore::Options options;
    options.replica = "replica-a";
    options.track_changes = true;
    return options;
  }

  EventHub::Options HubOptions() {
    EventHub::Options options;
    options.observer = &twins_;
    return options;
  }

  DeviceEvent Event(const std::string& device, const std::string& type) {
    DeviceEvent event;
    event.set_device_id(device);
    event.set_account_id(kAccount);
    event.set_type(type);
    return event;
  }

  void Connected(const std::string& device, const std::string& address = "10.0.0.1:5000") {
    DeviceEvent event = Event(device, "device-connected");
    event.mutable_connected()->set_address(address);
    event.mutable_connected()->set_protocol("hive.v1");
    hub_.Publish(std::move(event));
  }

  void Disconnected(const std::string& device, int code, const std::string& reason) {
    DeviceEvent event = Event(device, "device-disconnected");
    event.mutable_disconnected()->set_close_code(code);
    event.mutable_disconnected()->set_reason(reason);
    hub_.Publish(std::move(event));
  }

  void Version(const std::string& device, const std::string& version) {
    DeviceEvent event = Event(device, "device-version");
    event.mutable_device_version()->set_version(version);
    hub_.Publish(std::move(event));
  }

  void State(const std::string& device, const std::string& state) {
    DeviceEvent event = Event(device, "device-state");
    event.mutable_device_state()->set_state(state);
    hub_.Publish(std::move(event));
  }

  std::vector<std::string> Ids(const TwinStore::Page& page) {
    std::vector<std::string> ids;
    for (const Twin& twin : page.twins) ids.push_back(twin.device_id);
    return ids;
  }

  FakeClock clock_;
  TwinStore twins_;
  EventHub hub_{clock_, HubOptions(), "epoch-a"};
};

TEST_F(TwinStoreTest, AConnectedDeviceHasEveryConnectionField) {
  const absl::Time connected_at = clock_.Now();
  Connected("dev-1", "192.0.2.7:40000");
  clock_.Advance(absl::Seconds(5));
  hub_.Publish(Event("dev-1", "device-alive"));

  std::optional<Twin> twin = twins_.Get("dev-1");
  ASSERT_TRUE(twin.has_value());
  EXPECT_EQ(twin->device_id, "dev-1");
  EXPECT_EQ(twin->account_id, kAccount);
  EXPECT_EQ(twin->connection, Twin::Connection::kConnected);
  EXPECT_EQ(twin->address, "192.0.2.7:40000");
  EXPECT_EQ(twin->protocol, "hive.v1");
  EXPECT_EQ(twin->replica, "replica-a");
  EXPECT_EQ(TimeOf(twin->connected_at), connected_at);
  EXPECT_EQ(TimeOf(twin->last_alive_at), connected_at + absl::Seconds(5));
  EXPECT_THAT(twin->reported, IsEmpty());  // lifecycle events are fields, not reported events
  EXPECT_EQ(twins_.applied_sequence(), 2u);

  hive::bridge::v1::Device device = ToDevice(*twin);
  EXPECT_FALSE(device.online());  // the directory's answer, not the twin's
  EXPECT_FALSE(device.has_disconnected_at());
  EXPECT_EQ(device.close_code(), 0);
}

TEST_F(TwinStoreTest, ReportedEventsKeepTheLatestOfEachTypeWithItsSequence) {
  Connected("dev-1");
  Version("dev-1", "1.0.0");
  State("dev-1", "disk-low");
  Version("dev-1", "1.1.0");

  std::optional<Twin> twin = twins_.Get("dev-1");
  ASSERT_TRUE(twin.has_value());
  EXPECT_EQ(twin->version, "1.1.0");
  ASSERT_EQ(twin->reported.size(), 2u);
  EXPECT_EQ(twin->reported.at("device-version").event->device_version().version(), "1.1.0");
  EXPECT_EQ(twin->reported.at("device-version").event->sequence(), 4u);
  EXPECT_EQ(twin->reported.at("device-state").event->device_state().state(), "disk-low");
  EXPECT_EQ(twin->reported.at("device-state").event->sequence(), 3u);
  EXPECT_EQ(twin->bytes,
            kTwinOverheadBytes + twin->reported.at("device-version").bytes + twin->reported.at("device-state").bytes);
  EXPECT_EQ(twins_.stats().bytes, twin->bytes);

  const hive::bridge::v1::Device device = ToDevice(*twin);
  EXPECT_EQ(device.version(), "1.1.0");
  EXPECT_EQ(device.reported().at("device-state").device_state().state(), "disk-low");
}

TEST_F(TwinStoreTest, ASchemaErrorEventIsKeptAsTheLatestOfItsType) {
  Version("dev-1", "1.0.0");
  DeviceEvent bad = Event("dev-1", "device-version");
  bad.mutable_generic();
  bad.set_schema_error("version: expected string, got number");
  (*bad.mutable_extra()->mutable_fields())["version"].set_number_value(2);
  hub_.Publish(std::move(bad));

  std::optional<Twin> twin = twins_.Get("dev-1");
  ASSERT_TRUE(twin.has_value());
  const DeviceEvent& kept = *twin->reported.at("device-version").event;
  EXPECT_EQ(kept.schema_error(), "version: expected string, got number");
  EXPECT_EQ(kept.extra().fields().at("version").number_value(), 2);
  // The latest device-version named no version the schema knows.
  EXPECT_EQ(twin->version, "");
}

TEST_F(TwinStoreTest, DisconnectKeepsCodeAndReasonAndReconnectClearsThem) {
  Connected("dev-1", "10.0.0.1:1");
  Version("dev-1", "2.0");
  clock_.Advance(absl::Seconds(1));
  const absl::Time gone_at = clock_.Now();
  Disconnected("dev-1", 4410, "idle");

  std::optional<Twin> twin = twins_.Get("dev-1");
  ASSERT_TRUE(twin.has_value());
  EXPECT_EQ(twin->connection, Twin::Connection::kDisconnected);
  EXPECT_EQ(TimeOf(twin->disconnected_at), gone_at);
  EXPECT_EQ(twin->close_code, 4410);
  EXPECT_EQ(twin->close_reason, "idle");
  EXPECT_EQ(twin->address, "10.0.0.1:1");  // of the last connection
  EXPECT_EQ(twin->version, "2.0");         // reported events outlive the connection
  hive::bridge::v1::Device device = ToDevice(*twin);
  EXPECT_EQ(TimeOf(device.disconnected_at()), gone_at);
  EXPECT_EQ(device.close_code(), 4410);
  EXPECT_EQ(device.close_reason(), "idle");

  clock_.Advance(absl::Seconds(1));
  Connected("dev-1", "10.0.0.2:2");
  twin = twins_.Get("dev-1");
  ASSERT_TRUE(twin.has_value());
  EXPECT_EQ(twin->connection, Twin::Connection::kConnected);
  EXPECT_EQ(twin->address, "10.0.0.2:2");
  EXPECT_EQ(TimeOf(twin->connected_at), clock_.Now());
  EXPECT_EQ(twin->close_code, 0);
  EXPECT_EQ(twin->close_reason, "");
  EXPECT_FALSE(ToDevice(*twin).has_disconnected_at());
  EXPECT_EQ(twin->version, "2.0");
}

TEST_F(TwinStoreTest, AReplacedConnectionsGoodbyeAfterTheNewHelloLeavesTheDeviceConnected) {
  Connected("dev-1", "10.0.0.1:1");
  Connected("dev-1", "10.0.0.2:2");  // the newer connection announced first
  Disconnected("dev-1", 4409, "replaced by a newer connection of the same device");

  std::optional<Twin> twin = twins_.Get("dev-1");
  ASSERT_TRUE(twin.has_value());
  EXPECT_EQ(twin->connection, Twin::Connection::kConnected);
  EXPECT_EQ(twin->address, "10.0.0.2:2");
}

TEST_F(TwinStoreTest, OtherTypesAreNotKeptUnlessNamedAndDoNotCreateTwins) {
  hub_.Publish(Event("dev-1", "my-telemetry"));
  EXPECT_FALSE(twins_.Get("dev-1").has_value());
  EXPECT_EQ(twins_.applied_sequence(), 1u);  // seen, though of no concern

  TwinStore::Options options = Defaults();
  options.types = TwinTypes::WithExtra("my-telemetry,gps");
  TwinStore named(std::move(options));
  EventHub::Options hub_options;
  hub_options.observer = &named;
  EventHub hub(clock_, hub_options, "epoch-b");
  hub.Publish(Event("dev-1", "my-telemetry"));
  hub.Publish(Event("dev-1", "other"));
  std::optional<Twin> twin = named.Get("dev-1");
  ASSERT_TRUE(twin.has_value());
  EXPECT_EQ(twin->reported.size(), 1u);
  EXPECT_EQ(twin->reported.count("my-telemetry"), 1u);
}

TEST(TwinTypes, StandardTypesAndNamedOnesButNeverLifecycleTypes) {
  TwinTypes types = TwinTypes::WithExtra("gps,,device-connected,device-alive");
  for (const char* type : {"device-version", "device-state", "instances", "instance-state", "gps"}) {
    EXPECT_TRUE(types.Keeps(type)) << type;
  }
  EXPECT_FALSE(types.Keeps("device-connected"));
  EXPECT_FALSE(types.Keeps("device-alive"));
  EXPECT_FALSE(types.Keeps("my-telemetry"));
  EXPECT_TRUE(types.Changes("device-disconnected"));
  EXPECT_THAT(types.ChangingTypes(false), ElementsAre("device-connected", "device-disconnected", "device-state",
                                                      "device-version", "gps", "instance-state", "instances"));
  EXPECT_EQ(types.ChangingTypes(true).size(), 8u);
}

class LimitedTwinStoreTest : public TwinStoreTest {
 protected:
  static TwinStore::Options Limited(size_t max_twins, size_t max_bytes) {
    TwinStore::Options options = Defaults();
    options.max_twins = max_twins;
    options.max_bytes = max_bytes;
    return options;
  }
  LimitedTwinStoreTest() : TwinStoreTest(Limited(3, 1 << 20)) {}
};

TEST_F(LimitedTwinStoreTest, OverMaxTwinsTheLongestOfflineIsForgottenNeverAConnectedOne) {
  Connected("online-oldest");  // connected before everyone, never forgotten
  Connected("b");
  clock_.Advance(absl::Seconds(1));
  Disconnected("b", 1000, "");
  Connected("c");
  clock_.Advance(absl::Seconds(1));
  Disconnected("c", 1000, "");
  EXPECT_EQ(twins_.stats().twins, 3u);

  Connected("d");  // a fourth: b went offline first
  EXPECT_FALSE(twins_.Get("b").has_value());
  EXPECT_TRUE(twins_.Get("online-oldest").has_value());
  EXPECT_TRUE(twins_.Get("c").has_value());
  EXPECT_EQ(twins_.stats().forgotten_max_twins, 1u);

  Connected("e");  // then c
  EXPECT_FALSE(twins_.Get("c").has_value());
  Connected("f");  // only connected twins left: none is forgotten
  EXPECT_EQ(twins_.stats().twins, 4u);
  EXPECT_TRUE(twins_.Get("online-oldest").has_value());
  EXPECT_EQ(twins_.stats().forgotten_max_twins, 2u);

  // The forgotten ones are changes for the persister.
  TwinStore::Changes changes = twins_.TakeChanges();
  EXPECT_THAT(changes.removed, ::testing::UnorderedElementsAre("b", "c"));
  EXPECT_EQ(changes.sequence, twins_.applied_sequence());
  EXPECT_EQ(changes.epoch, "epoch-a");
}

class ByteLimitedTwinStoreTest : public TwinStoreTest {
 protected:
  static constexpr size_t kMaxBytes = 3 * kTwinOverheadBytes + 2 * kEventOverheadBytes + 500;
  ByteLimitedTwinStoreTest() : TwinStoreTest(Limited()) {}
  static TwinStore::Options Limited() {
    TwinStore::Options options = Defaults();
    // Room for three twins, two with a small event each, and some 500
    // bytes more.
    options.max_bytes = kMaxBytes;
    return options;
  }
};

TEST_F(ByteLimitedTwinStoreTest, OverMaxTwinBytesTheLongestOfflineIsForgotten) {
  Connected("a");
  State("a", "x");
  Disconnected("a", 1000, "");
  Connected("b");
  State("b", "x");
  Disconnected("b", 1000, "");
  Connected("c");
  State("c", std::string(400, 'x'));  // over the bytes, within the count
  EXPECT_FALSE(twins_.Get("a").has_value());
  EXPECT_TRUE(twins_.Get("b").has_value());
  EXPECT_EQ(twins_.stats().forgotten_max_bytes, 1u);
  EXPECT_EQ(twins_.stats().forgotten_max_twins, 0u);
  EXPECT_LE(twins_.stats().bytes, kMaxBytes);
}

TEST_F(TwinStoreTest, PagesAreInDeviceIdOrderAndStableWhileTwinsComeAndGo) {
  for (const char* id : {"d", "b", "a", "c", "e"}) Connected(id);
  auto all = [](const Twin&) { return true; };
  TwinStore::Page first = twins_.PageAfter("", 2, all);
  EXPECT_THAT(Ids(first), ElementsAre("a", "b"));
  EXPECT_FALSE(first.end);
  // A device new before the cursor does not shift the next page.
  Connected("aa");
  TwinStore::Page second = twins_.PageAfter(first.last_scanned, 2, all);
  EXPECT_THAT(Ids(second), ElementsAre("c", "d"));
  TwinStore::Page third = twins_.PageAfter(second.last_scanned, 2, all);
  EXPECT_THAT(Ids(third), ElementsAre("e"));
  EXPECT_TRUE(third.end);

  Version("c", "9");
  TwinStore::Page filtered = twins_.PageAfter("", 10, [](const Twin& twin) { return twin.version == "9"; });
  EXPECT_THAT(Ids(filtered), ElementsAre("c"));
}

TEST_F(TwinStoreTest, LoadClosesConnectionsTheStoppedBridgeHeldAtTheirLastKnownTime) {
  Twin connected;
  connected.device_id = "was-online";
  connected.connection = Twin::Connection::kConnected;
  connected.connected_at = TimeUtil::SecondsToTimestamp(100);
  connected.last_alive_at = TimeUtil::SecondsToTimestamp(160);
  Twin offline;
  offline.device_id = "was-offline";
  offline.connection = Twin::Connection::kDisconnected;
  offline.disconnected_at = TimeUtil::SecondsToTimestamp(50);
  offline.close_code = 1000;
  twins_.Load({connected, offline}, /*close_connected=*/true);

  std::optional<Twin> twin = twins_.Get("was-online");
  ASSERT_TRUE(twin.has_value());
  EXPECT_EQ(twin->connection, Twin::Connection::kDisconnected);
  EXPECT_EQ(twin->close_code, 1006);
  EXPECT_EQ(TimeUtil::TimestampToNanoseconds(twin->disconnected_at), 160'000'000'000);
  EXPECT_EQ(twins_.Get("was-offline")->close_code, 1000);
  // Only the changed one is dirty.
  TwinStore::Changes changes = twins_.TakeChanges();
  ASSERT_EQ(changes.upserts.size(), 1u);
  EXPECT_EQ(changes.upserts[0].device_id, "was-online");
}

TEST_F(TwinStoreTest, TwinsRoundTripThroughTheirStoredForm) {
  Connected("dev-1");
  Version("dev-1", "3.1");
  State("dev-1", "ok");
  Disconnected("dev-1", 4401, "token expired");
  const Twin twin = *twins_.Get("dev-1");

  absl::StatusOr<Twin> back = TwinFromDevice(ToDevice(twin));
  ASSERT_TRUE(back.ok()) << back.status();
  // Compared as messages: `reported` is a map, whose serialized order is not fixed.
  EXPECT_TRUE(MessageDifferencer::Equals(ToDevice(*back), ToDevice(twin)));
  EXPECT_EQ(back->connection, Twin::Connection::kDisconnected);
  EXPECT_EQ(back->version, "3.1");
  EXPECT_FALSE(TwinFromDevice(hive::bridge::v1::Device()).ok());
}

}  // namespace
}  // namespace hive

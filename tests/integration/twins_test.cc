// Device twins end to end (device_bridge.proto: GetDevice, ListDevices,
// WatchDevices): what the bridge remembers of a device after it went away,
// the presence and version filters with stable paging, the watch stream's
// snapshot and changes, and twins surviving a restart with the same
// --state-dir, graceful and kill -9.
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_metrics.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/state_dir.h"
#include "tests/integration/support/wait_until.h"

namespace hive::integration {
namespace {

using hive::bridge::v1::Device;
using hive::bridge::v1::GetDeviceResponse;
using hive::bridge::v1::ListDevicesRequest;
using hive::bridge::v1::ListDevicesResponse;
using hive::bridge::v1::Presence;
using hive::bridge::v1::PRESENCE_ALL;
using hive::bridge::v1::PRESENCE_OFFLINE;
using hive::bridge::v1::PRESENCE_ONLINE;
using hive::bridge::v1::WatchDevicesRequest;
using hive::bridge::v1::WatchDevicesResponse;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

std::string VersionEvent(absl::string_view version) {
  return absl::StrCat(R"({"type":"device-version","version":")", version, R"("})");
}

class TwinsTest : public BridgeTest {
 protected:
  // The device as GetDevice shows it; aborts when the call fails.
  Device Get(const std::string& device_id) {
    GetDeviceResponse response;
    grpc::Status status = GetDevice(stub(), device_id, &response);
    if (!status.ok()) AbortTest(absl::StrCat("GetDevice ", device_id, ": ", status.error_message(), "\n", Log()));
    return response.device();
  }

  // Waits until GetDevice shows `done`.
  ::testing::AssertionResult AwaitDevice(const std::string& device_id, const std::function<bool(const Device&)>& done,
                                         absl::string_view what) {
    return WaitUntil(
        [&] {
          GetDeviceResponse response;
          return GetDevice(stub(), device_id, &response).ok() && done(response.device());
        },
        what);
  }

  TestDevice& ConnectWithVersion(const std::string& account, absl::string_view version) {
    TestDevice& device = Connect({.account_id = account});
    device.Send(VersionEvent(version));
    EXPECT_TRUE(AwaitDevice(
        device.device_id(), [&](const Device& d) { return d.version() == version; }, "the version is in the twin"))
        << Log();
    return device;
  }

  void Disconnect(TestDevice& device, int code, absl::string_view reason) {
    device.Close(code, reason);
    ASSERT_TRUE(device.WaitClosed(absl::Seconds(5)));
    ASSERT_TRUE(AwaitDevice(
        device.device_id(), [](const Device& d) { return !d.online() && d.has_disconnected_at(); },
        "the twin shows the device offline"))
        << Log();
  }

  // Every page of ListDevices, `page_size` at a time.
  std::vector<ListDevicesResponse> Pages(const std::string& account, Presence presence, int page_size,
                                         const std::string& version = "") {
    std::vector<ListDevicesResponse> pages;
    ListDevicesRequest request;
    request.set_account_id(account);
    request.set_presence(presence);
    request.set_version(version);
    request.set_page_size(page_size);
    do {
      grpc::ClientContext context;
      SetDeadline(context, kDefaultCallDeadline);
      ListDevicesResponse page;
      grpc::Status status = stub().ListDevices(&context, request, &page);
      if (!status.ok()) AbortTest(absl::StrCat("ListDevices: ", status.error_message()));
      request.set_page_token(page.next_page_token());
      pages.push_back(std::move(page));
    } while (!request.page_token().empty() && pages.size() < 100);
    return pages;
  }

  static std::vector<std::string> Ids(const std::vector<ListDevicesResponse>& pages) {
    std::vector<std::string> ids;
    for (const ListDevicesResponse& page : pages) {
      for (const Device& device : page.devices()) ids.push_back(device.device_id());
    }
    return ids;
  }

  static std::vector<int> Sizes(const std::vector<ListDevicesResponse>& pages) {
    std::vector<int> sizes;
    for (const ListDevicesResponse& page : pages) sizes.push_back(page.devices_size());
    return sizes;
  }

  static std::vector<std::string> Sorted(std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
  }
};

TEST_F(TwinsTest, GetDeviceOfAnOfflineDeviceShowsItsLastConnectionAndReportedEvents) {
  StartOwnBridge();
  const std::string account = NewId();
  TestDevice& device = ConnectWithVersion(account, "1.2.3");
  device.Send(R"({"type":"device-state","state":"disk-low","disk_free_bytes":1024})");
  ASSERT_TRUE(AwaitDevice(
      device.device_id(), [](const Device& d) { return d.reported().count("device-state") == 1; },
      "the state is in the twin"));
  const Device online = Get(device.device_id());
  EXPECT_TRUE(online.online());
  EXPECT_FALSE(online.has_disconnected_at());
  EXPECT_EQ(online.close_code(), 0);

  Disconnect(device, 1000, "bye");

  const Device offline = Get(device.device_id());
  EXPECT_FALSE(offline.online());
  EXPECT_EQ(offline.device_id(), device.device_id());
  EXPECT_EQ(offline.account_id(), account);
  EXPECT_EQ(offline.close_code(), 1000);
  EXPECT_EQ(offline.close_reason(), "bye");
  EXPECT_GE(offline.disconnected_at().seconds(), offline.connected_at().seconds());
  // The last connection's fields stay.
  EXPECT_EQ(offline.address(), online.address());
  EXPECT_EQ(offline.protocol(), "hive.v1");
  EXPECT_EQ(offline.connected_at().seconds(), online.connected_at().seconds());
  EXPECT_EQ(offline.version(), "1.2.3");
  ASSERT_EQ(offline.reported().count("device-version"), 1u);
  EXPECT_EQ(offline.reported().at("device-version").device_version().version(), "1.2.3");
  EXPECT_GT(offline.reported().at("device-version").sequence(), 0u);
  EXPECT_TRUE(offline.reported().at("device-version").has_received_at());
  EXPECT_EQ(offline.reported().at("device-state").device_state().disk_free_bytes(), 1024u);

  // Never seen at all: NOT_FOUND still.
  EXPECT_EQ(GetDevice(stub(), NewId()).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(TwinsTest, ASchemaErrorEventIsTheLatestOfItsType) {
  StartOwnBridge();
  TestDevice& device = ConnectWithVersion(NewId(), "1.0");
  device.Send(R"({"type":"device-version","version":42})");
  ASSERT_TRUE(AwaitDevice(
      device.device_id(), [](const Device& d) { return !d.reported().at("device-version").schema_error().empty(); },
      "the malformed version event is the twin's latest"))
      << Log();
  const Device twin = Get(device.device_id());
  EXPECT_EQ(twin.version(), "");  // the latest version event named none the schema knows
  EXPECT_EQ(twin.reported().at("device-version").extra().fields().at("version").number_value(), 42);
}

TEST_F(TwinsTest, ListDevicesFiltersByPresenceAndVersionAndPagesStably) {
  StartOwnBridge();
  const std::string account = NewId();
  std::vector<std::string> online, offline, v2;
  for (const char* version : {"1.0", "2.0", "2.0"}) {
    const std::string id = ConnectWithVersion(account, version).device_id();
    online.push_back(id);
    if (std::string(version) == "2.0") v2.push_back(id);
  }
  for (const char* version : {"2.0", "1.0"}) {
    TestDevice& device = ConnectWithVersion(account, version);
    Disconnect(device, 1000, "");
    offline.push_back(device.device_id());
    if (std::string(version) == "2.0") v2.push_back(device.device_id());
  }
  ConnectWithVersion(NewId(), "2.0");  // another account
  std::vector<std::string> all = online;
  all.insert(all.end(), offline.begin(), offline.end());

  EXPECT_THAT(Ids(Pages(account, hive::bridge::v1::PRESENCE_UNSPECIFIED, 0)), ElementsAreArray(Sorted(online)));
  EXPECT_THAT(Ids(Pages(account, PRESENCE_ONLINE, 0)), ElementsAreArray(Sorted(online)));
  EXPECT_THAT(Ids(Pages(account, PRESENCE_OFFLINE, 0)), ElementsAreArray(Sorted(offline)));
  EXPECT_THAT(Ids(Pages(account, PRESENCE_ALL, 0)), ElementsAreArray(Sorted(all)));
  EXPECT_THAT(Ids(Pages(account, PRESENCE_ALL, 0, "2.0")), ElementsAreArray(Sorted(v2)));
  EXPECT_THAT(Ids(Pages(account, PRESENCE_OFFLINE, 0, "2.0")), ElementsAre(offline[0]));

  std::vector<ListDevicesResponse> pages = Pages(account, PRESENCE_ALL, 2);
  EXPECT_THAT(Sizes(pages), ElementsAre(2, 2, 1));
  EXPECT_THAT(Ids(pages), ElementsAreArray(Sorted(all)));
  for (const ListDevicesResponse& page : pages) {
    for (const Device& device : page.devices()) {
      const bool is_online = std::find(online.begin(), online.end(), device.device_id()) != online.end();
      EXPECT_EQ(device.online(), is_online) << device.device_id();
      EXPECT_FALSE(device.version().empty()) << device.device_id();
    }
  }

  ListDevicesRequest bad;
  bad.set_presence(static_cast<Presence>(9));
  grpc::ClientContext context;
  ListDevicesResponse ignored;
  grpc::Status status = stub().ListDevices(&context, bad, &ignored);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "presence: unknown value 9");
}

TEST_F(TwinsTest, WatchDevicesSendsTheSnapshotThenEachChange) {
  StartOwnBridge();
  const std::string account = NewId();
  TestDevice& first = ConnectWithVersion(account, "1.0");
  TestDevice& second = ConnectWithVersion(account, "2.0");
  Disconnect(second, 1000, "");
  ConnectWithVersion(NewId(), "9.9");  // another account: never watched

  grpc::ClientContext context;
  SetDeadline(context, absl::Seconds(30));
  WatchDevicesRequest request;
  request.add_account_ids(account);
  std::unique_ptr<grpc::ClientReader<WatchDevicesResponse>> watch = stub().WatchDevices(&context, request);
  std::vector<WatchDevicesResponse> snapshot;
  WatchDevicesResponse message;
  while (watch->Read(&message) && !message.snapshot_complete()) snapshot.push_back(message);
  ASSERT_TRUE(message.snapshot_complete()) << Log();
  ASSERT_EQ(snapshot.size(), 2u);
  std::vector<std::string> ids = {snapshot[0].device().device_id(), snapshot[1].device().device_id()};
  EXPECT_THAT(ids, ElementsAreArray(Sorted({first.device_id(), second.device_id()})));
  for (const WatchDevicesResponse& twin : snapshot) {
    EXPECT_FALSE(twin.has_event());
    EXPECT_EQ(twin.device().online(), twin.device().device_id() == first.device_id());
  }

  first.Send(R"({"type":"device-state","state":"disk-low"})");
  ASSERT_TRUE(watch->Read(&message)) << Log();
  EXPECT_EQ(message.event().type(), "device-state");
  EXPECT_EQ(message.device().device_id(), first.device_id());
  EXPECT_EQ(message.device().reported().at("device-state").device_state().state(), "disk-low");
  EXPECT_TRUE(message.device().online());

  first.Close(1000, "later");
  ASSERT_TRUE(watch->Read(&message)) << Log();
  EXPECT_EQ(message.event().type(), "device-disconnected");
  EXPECT_FALSE(message.device().online());
  EXPECT_EQ(message.device().close_reason(), "later");
  context.TryCancel();
}

// A watcher that stops reading while its device sends much: its bounded queue
// overflows (a Gap), and the stream sends the snapshot again, as the twins
// stand then, with another end marker; the device's last state still arrives.
TEST_F(TwinsTest, ASlowWatcherGetsTheSnapshotAgainAndMissesNothingOfTheTwins) {
  StartOwnBridge({"--subscriber-queue=1"});
  const std::string account = NewId();
  TestDevice& device = ConnectWithVersion(account, "1.0");

  grpc::ClientContext context;
  SetDeadline(context, absl::Seconds(60));
  WatchDevicesRequest request;
  request.add_account_ids(account);
  std::unique_ptr<grpc::ClientReader<WatchDevicesResponse>> watch = stub().WatchDevices(&context, request);
  WatchDevicesResponse message;
  int markers = 0;
  while (markers == 0 && watch->Read(&message)) markers += message.snapshot_complete() ? 1 : 0;
  ASSERT_EQ(markers, 1) << Log();

  // Unread, these fill gRPC's flow-control window, then the one-event queue.
  constexpr int kEvents = 500;  // within --device-event-burst
  const std::string padding(16000, 'x');
  for (int i = 0; i < kEvents; ++i) {
    device.Send(absl::StrCat(R"({"type":"device-state","state":"s)", i, R"(","padding":")", padding, R"("})"));
  }
  ASSERT_TRUE(AwaitDevice(
      device.device_id(),
      [&](const Device& d) {
        // Asked while the events arrive: the first state may not be applied yet.
        const auto state = d.reported().find("device-state");
        return state != d.reported().end() && state->second.device_state().state() == absl::StrCat("s", kEvents - 1);
      },
      "the bridge applied the last state"))
      << Log();

  bool last_state_seen = false;
  while (!(markers >= 2 && last_state_seen) && watch->Read(&message)) {
    if (message.snapshot_complete()) ++markers;
    if (message.has_device() && message.device().reported().count("device-state") == 1 &&
        message.device().reported().at("device-state").device_state().state() == absl::StrCat("s", kEvents - 1)) {
      last_state_seen = true;
    }
  }
  EXPECT_GE(markers, 2) << "the slow watcher was never sent the snapshot again\n" << Log();
  EXPECT_TRUE(last_state_seen) << Log();
  context.TryCancel();
}

TEST_F(TwinsTest, WatchDevicesRefusesBadIdsNamingTheField) {
  StartOwnBridge();
  grpc::ClientContext context;
  SetDeadline(context, kDefaultCallDeadline);
  WatchDevicesRequest request;
  request.add_device_ids("not-a-uuid");
  std::unique_ptr<grpc::ClientReader<WatchDevicesResponse>> watch = stub().WatchDevices(&context, request);
  WatchDevicesResponse message;
  EXPECT_FALSE(watch->Read(&message));
  grpc::Status status = watch->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), R"(device_ids[0]: expected a UUID, got "not-a-uuid")");
}

TEST_F(TwinsTest, TwinsSurviveAGracefulRestartWithTheSameStateDir) {
  StateDir state;
  StartOwnBridge({"--state-dir=" + state.path()});
  const std::string account = NewId();
  TestDevice& gone = ConnectWithVersion(account, "1.0");
  Disconnect(gone, 4000, "firmware update");
  TestDevice& staying = ConnectWithVersion(account, "2.0");

  bridge().Signal(SIGTERM);
  ASSERT_EQ(bridge().Wait(absl::Seconds(20)), 0) << Log();
  StartOwnBridge({"--state-dir=" + state.path()});

  const Device old = Get(gone.device_id());
  EXPECT_FALSE(old.online());
  EXPECT_EQ(old.close_code(), 4000);
  EXPECT_EQ(old.close_reason(), "firmware update");
  EXPECT_EQ(old.version(), "1.0");
  // Its goodbye at shutdown reached the twin before the last flush.
  const Device was_connected = Get(staying.device_id());
  EXPECT_FALSE(was_connected.online());
  EXPECT_EQ(was_connected.close_code(), 1001);
  EXPECT_EQ(was_connected.version(), "2.0");
  EXPECT_THAT(Ids(Pages(account, PRESENCE_OFFLINE, 0)),
              ElementsAreArray(Sorted({gone.device_id(), staying.device_id()})));
}

TEST_F(TwinsTest, TwinsPersistedBeforeAKillMinus9AreBack) {
  StateDir state;
  StartOwnBridge({"--state-dir=" + state.path()});
  const std::string account = NewId();
  TestDevice& device = ConnectWithVersion(account, "3.0");
  const uint64_t sequence = Get(device.device_id()).reported().at("device-version").sequence();
  ASSERT_GE(AwaitMetricValue(bridge(), "hivebridge_twin_persisted_sequence", sequence, kHangBound), sequence) << Log();

  bridge().Signal(SIGKILL);
  ASSERT_TRUE(bridge().Wait(absl::Seconds(10)).has_value());
  StartOwnBridge({"--state-dir=" + state.path()});

  const Device twin = Get(device.device_id());
  EXPECT_FALSE(twin.online());
  EXPECT_EQ(twin.version(), "3.0");
  // Cut off without a goodbye: the bridge says so when it loads the twin.
  EXPECT_EQ(twin.close_code(), 1006);
  EXPECT_EQ(twin.account_id(), account);
  EXPECT_EQ(MetricValue(bridge(), "hivebridge_twins"), 1u);

  // And the device comes back to the same twin.
  TestDevice& again = Connect({.device_id = device.device_id(), .account_id = account});
  EXPECT_TRUE(AwaitDevice(
      again.device_id(), [](const Device& d) { return d.online() && d.close_code() == 0 && d.version() == "3.0"; },
      "the reconnected device keeps its twin"))
      << Log();
}

}  // namespace
}  // namespace hive::integration

// DeviceView merges the live directory with the twins: listings by presence,
// account and version page stably in device id order across the bounded
// chunks it takes from each source (more devices than one chunk here), and
// `online` is always the directory's answer.
#include "server/device_view.h"

#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "bridge/event_hub.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/support/fake_clock.h"

namespace hive::server {
namespace {

using hive::bridge::v1::Device;
using hive::bridge::v1::DeviceEvent;
using hive::bridge::v1::Presence;
using hive::bridge::v1::PRESENCE_ALL;
using hive::bridge::v1::PRESENCE_OFFLINE;
using hive::bridge::v1::PRESENCE_ONLINE;
using ::testing::ElementsAreArray;

constexpr char kAccount[] = "acc-a";
constexpr char kOther[] = "acc-b";

class LiveLink final : public DeviceLink {
 public:
  LiveLink(std::string device_id, std::string account_id)
      : device_id_(std::move(device_id)), account_id_(std::move(account_id)) {}
  const std::string& device_id() const override { return device_id_; }
  const std::string& account_id() const override { return account_id_; }
  codec::Dialect dialect() const override { return codec::Dialect::kStandard; }
  Device Describe() const override {
    Device device;
    device.set_device_id(device_id_);
    device.set_account_id(account_id_);
    device.set_address("live-address");
    return device;
  }
  absl::Status SendRequest(std::string, std::string, RequestCorrelator::WaiterId) override { return absl::OkStatus(); }
  void Close(int, std::string) override {}

 private:
  const std::string device_id_;
  const std::string account_id_;
};

class DeviceViewTest : public ::testing::Test {
 protected:
  DeviceViewTest() {
    // 700 devices of two accounts, more than one chunk of either source:
    // every third online; versions "1" and "2" alternate; some online
    // devices have no twin yet, and some twins think they are connected
    // while the directory no longer holds them.
    for (int i = 0; i < 700; ++i) {
      const std::string id = absl::StrFormat("d-%04d", i);
      const std::string account = i % 5 == 0 ? kOther : kAccount;
      const bool online = i % 3 == 0;
      const bool twinless = online && i % 7 == 0;
      if (!twinless) {
        Publish(id, account, "device-connected");
        DeviceEvent version = Make(id, account, "device-version");
        version.mutable_device_version()->set_version(i % 2 == 0 ? "1" : "2");
        hub_.Publish(std::move(version));
        if (!online && i % 4 != 0) Publish(id, account, "device-disconnected");
      }
      if (online) registry_.Register(std::make_shared<LiveLink>(id, account));
      Expect(id, account, online, twinless ? "" : (i % 2 == 0 ? "1" : "2"));
    }
  }

  static DeviceEvent Make(const std::string& id, const std::string& account, const std::string& type) {
    DeviceEvent event;
    event.set_device_id(id);
    event.set_account_id(account);
    event.set_type(type);
    return event;
  }
  void Publish(const std::string& id, const std::string& account, const std::string& type) {
    hub_.Publish(Make(id, account, type));
  }

  struct Known {
    std::string id, account, version;
    bool online;
  };
  void Expect(std::string id, std::string account, bool online, std::string version) {
    known_.push_back({std::move(id), std::move(account), std::move(version), online});
  }

  std::vector<std::string> Wanted(const std::string& account, Presence presence, const std::string& version) const {
    std::vector<std::string> ids;
    for (const Known& k : known_) {
      if (!account.empty() && k.account != account) continue;
      if (presence == PRESENCE_ONLINE && !k.online) continue;
      if (presence == PRESENCE_OFFLINE && k.online) continue;
      if (!version.empty() && k.version != version) continue;
      ids.push_back(k.id);
    }
    return ids;  // already in id order
  }

  // Every page, `page_size` at a time, as ListDevices pages.
  std::vector<Device> AllPages(const std::string& account, Presence presence, const std::string& version,
                               size_t page_size) {
    std::vector<Device> all;
    DeviceView::Query query{account, presence, version, "", page_size + 1};
    for (int pages = 0; pages < 1000; ++pages) {
      std::vector<Device> page = view_.List(query);
      const bool more = page.size() > page_size;
      if (more) page.pop_back();
      for (Device& device : page) all.push_back(std::move(device));
      if (!more) break;
      query.after = all.back().device_id();
    }
    return all;
  }

  static std::vector<std::string> Ids(const std::vector<Device>& devices) {
    std::vector<std::string> ids;
    for (const Device& device : devices) ids.push_back(device.device_id());
    return ids;
  }

  hive::testing::FakeClock clock_;
  TwinStore twins_{TwinStore::Options{}};
  EventHub hub_{clock_,
                [this] {
                  EventHub::Options options;
                  options.observer = &twins_;
                  return options;
                }(),
                "epoch"};
  SessionRegistry registry_{clock_};
  DeviceView view_{registry_, twins_};
  std::vector<Known> known_;
};

TEST_F(DeviceViewTest, EveryPresenceAccountAndVersionPagesThroughExactlyTheMatchingDevicesInOrder) {
  for (Presence presence : {PRESENCE_ONLINE, PRESENCE_OFFLINE, PRESENCE_ALL}) {
    for (const std::string account : {"", kAccount}) {
      for (const std::string version : {"", "2"}) {
        for (size_t page_size : {size_t{1}, size_t{97}, size_t{1000}}) {
          std::vector<Device> devices = AllPages(account, presence, version, page_size);
          EXPECT_THAT(Ids(devices), ElementsAreArray(Wanted(account, presence, version)))
              << "presence " << presence << " account '" << account << "' version '" << version << "' page "
              << page_size;
        }
      }
    }
  }
}

TEST_F(DeviceViewTest, OnlineIsTheDirectorysAnswerAndLiveFieldsWin) {
  std::vector<Device> all = AllPages("", PRESENCE_ALL, "", 100);
  ASSERT_EQ(all.size(), 700u);
  for (const Device& device : all) {
    const int i = std::stoi(device.device_id().substr(2));
    EXPECT_EQ(device.online(), i % 3 == 0) << device.device_id();
    if (device.online()) {
      EXPECT_EQ(device.address(), "live-address");
      EXPECT_FALSE(device.has_disconnected_at());
    }
  }
  // A twin that still thinks it is connected, which the directory does not
  // hold: offline.
  std::optional<Device> stale = view_.Find("d-0004");
  ASSERT_TRUE(stale.has_value());
  EXPECT_FALSE(stale->online());
  EXPECT_EQ(stale->version(), "1");
  // An online device without a twin yet is found too; an unknown one is not.
  std::optional<Device> twinless = view_.Find("d-0021");
  ASSERT_TRUE(twinless.has_value());
  EXPECT_TRUE(twinless->online());
  EXPECT_FALSE(view_.Find("d-9999").has_value());
}

}  // namespace
}  // namespace hive::server

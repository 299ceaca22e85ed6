// ListDevices and GetDevice end to end (device_bridge.proto): pages in
// device id order with tokens, the account filter, and what the bridge
// knows about one connection.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/wait_until.h"

namespace hive::integration {
namespace {

using hive::bridge::v1::Device;
using hive::bridge::v1::GetDeviceResponse;
using hive::bridge::v1::ListDevicesRequest;
using hive::bridge::v1::ListDevicesResponse;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsSupersetOf;

class DevicesTest : public BridgeTest {
 protected:
  static void SetUpTestSuite() { StartSuiteBridge(); }
  static void TearDownTestSuite() { StopSuiteBridge(); }

  // Every page of ListDevices for `account_id`, `page_size` at a time.
  std::vector<ListDevicesResponse> AllPages(const std::string& account_id, int page_size) {
    std::vector<ListDevicesResponse> pages;
    ListDevicesRequest request;
    request.set_account_id(account_id);
    request.set_page_size(page_size);
    constexpr int kMaxPages = 100;
    do {
      grpc::ClientContext context;
      SetDeadline(context, kDefaultCallDeadline);
      ListDevicesResponse page;
      grpc::Status status = stub().ListDevices(&context, request, &page);
      if (!status.ok()) AbortTest(absl::StrCat("ListDevices: ", status.error_message()));
      request.set_page_token(page.next_page_token());
      pages.push_back(std::move(page));
    } while (!request.page_token().empty() && pages.size() < kMaxPages);
    return pages;
  }
};

std::vector<int> SizesOf(const std::vector<ListDevicesResponse>& pages) {
  std::vector<int> sizes;
  for (const ListDevicesResponse& page : pages) sizes.push_back(page.devices_size());
  return sizes;
}

std::vector<std::string> IdsOf(const std::vector<ListDevicesResponse>& pages) {
  std::vector<std::string> ids;
  for (const ListDevicesResponse& page : pages) {
    for (const Device& device : page.devices()) ids.push_back(device.device_id());
  }
  return ids;
}

TEST_F(DevicesTest, ListDevicesPagesThroughAnAccountInDeviceIdOrder) {
  const std::string account = NewId();
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) ids.push_back(Connect({.account_id = account}).device_id());
  for (int i = 0; i < 2; ++i) Connect();  // other accounts
  std::sort(ids.begin(), ids.end());

  std::vector<ListDevicesResponse> pages = AllPages(account, 3);

  EXPECT_THAT(SizesOf(pages), ElementsAre(3, 3, 1));
  EXPECT_THAT(IdsOf(pages), ElementsAreArray(ids));
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_FALSE(pages[0].next_page_token().empty());
  EXPECT_FALSE(pages[1].next_page_token().empty());
  EXPECT_TRUE(pages[2].next_page_token().empty());
  for (const ListDevicesResponse& page : pages) {
    for (const Device& device : page.devices()) EXPECT_EQ(device.account_id(), account);
  }
}

TEST_F(DevicesTest, AccountFilterListsOnlyThatAccountsDevices) {
  const std::string account = NewId();
  std::vector<std::string> ids = {Connect({.account_id = account}).device_id(),
                                  Connect({.account_id = account}).device_id()};
  Connect();
  std::sort(ids.begin(), ids.end());

  std::vector<ListDevicesResponse> pages = AllPages(account, 0);  // 0: the default page size

  EXPECT_THAT(SizesOf(pages), ElementsAre(2));
  EXPECT_THAT(IdsOf(pages), ElementsAreArray(ids));
}

TEST_F(DevicesTest, UnfilteredListHoldsEveryAccountSortedAcrossPages) {
  std::vector<std::string> ours;
  for (int i = 0; i < 5; ++i) ours.push_back(Connect().device_id());

  std::vector<std::string> listed = IdsOf(AllPages("", 2));

  EXPECT_TRUE(std::is_sorted(listed.begin(), listed.end()));
  EXPECT_EQ(std::adjacent_find(listed.begin(), listed.end()), listed.end()) << "a device listed twice";
  EXPECT_THAT(listed, IsSupersetOf(ours));
}

class GetDeviceTest : public DevicesTest, public ::testing::WithParamInterface<codec::Dialect> {};

TEST_P(GetDeviceTest, DescribesTheConnection) {
  const absl::Time before = absl::Now();
  TestDevice& device = Connect({.dialect = GetParam()});
  const absl::Time after = absl::Now();

  GetDeviceResponse response;
  grpc::Status status = GetDevice(stub(), device.device_id(), &response);

  ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << Log();
  const Device& described = response.device();
  EXPECT_EQ(described.device_id(), device.device_id());
  EXPECT_EQ(described.account_id(), device.account_id());
  EXPECT_EQ(described.address(), absl::StrCat("127.0.0.1:", device.local_port()));
  EXPECT_EQ(described.protocol(), codec::SubprotocolOf(GetParam()));
  EXPECT_FALSE(described.replica().empty());
  EXPECT_FALSE(described.has_last_alive_at()) << "no ping has been answered yet";
  const absl::Time connected_at =
      absl::FromUnixNanos(google::protobuf::util::TimeUtil::TimestampToNanoseconds(described.connected_at()));
  EXPECT_GE(connected_at, before);
  EXPECT_LE(connected_at, after);
}

INSTANTIATE_TEST_SUITE_P(Dialects, GetDeviceTest,
                         ::testing::Values(codec::Dialect::kStandard, codec::Dialect::kCompact), DialectName);

TEST_F(DevicesTest, DisconnectedDeviceIsNoLongerListedAsOnline) {
  const std::string account = NewId();
  TestDevice& device = Connect({.account_id = account});

  device.Close(1000, "bye");
  ASSERT_TRUE(device.WaitClosed(absl::Seconds(3)));

  // The bridge sees the close a moment after the device does; GetDevice
  // then answers from the device's twin (twins_test.cc).
  EXPECT_TRUE(WaitUntil(
      [&] {
        GetDeviceResponse response;
        return GetDevice(stub(), device.device_id(), &response).ok() && !response.device().online();
      },
      "the closed device is no longer online"))
      << Log();
  EXPECT_THAT(SizesOf(AllPages(account, 0)), ElementsAre(0));
}

}  // namespace
}  // namespace hive::integration

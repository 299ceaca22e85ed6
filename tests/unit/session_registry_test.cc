#include "bridge/session_registry.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/unit/support/fake_clock.h"

namespace hive {
namespace {

constexpr char kAccount[] = "8813b625-e219-4390-9a7b-fe0e22c9e50b";
constexpr char kOtherAccount[] = "1c0f5e8a-7d2b-4f3a-9e61-2b8d4c7a9f10";

// A link that only knows who it is.
class StubLink final : public DeviceLink {
 public:
  StubLink(std::string device_id, std::string account_id)
      : device_id_(std::move(device_id)), account_id_(std::move(account_id)) {}
  const std::string& device_id() const override { return device_id_; }
  const std::string& account_id() const override { return account_id_; }
  codec::Dialect dialect() const override { return codec::Dialect::kStandard; }
  hive::bridge::v1::Device Describe() const override { return {}; }
  absl::Status SendRequest(std::string, std::string, RequestCorrelator::WaiterId) override { return absl::OkStatus(); }
  void Close(int, std::string) override {}

 private:
  const std::string device_id_;
  const std::string account_id_;
};

std::shared_ptr<DeviceLink> Link(const std::string& device, const std::string& account = kAccount) {
  return std::make_shared<StubLink>(device, account);
}

TEST(SessionRegistry, RegisterWithinRefusesADeviceBeyondItsAccountsLimit) {
  testing::FakeClock clock;
  SessionRegistry registry(clock);
  ASSERT_TRUE(registry.RegisterWithin(Link("d-1"), 2).ok());
  ASSERT_TRUE(registry.RegisterWithin(Link("d-2"), 2).ok());

  absl::StatusOr<std::shared_ptr<DeviceLink>> third = registry.RegisterWithin(Link("d-3"), 2);

  EXPECT_EQ(third.status(),
            absl::ResourceExhaustedError(absl::StrCat(
                "account ", kAccount, " already has 2 devices connected (--max-connections-per-account)")));
  EXPECT_EQ(registry.Find("d-3"), nullptr);
  EXPECT_EQ(registry.account_size(kAccount), 2u);
  // Another account has room of its own.
  EXPECT_TRUE(registry.RegisterWithin(Link("d-4", kOtherAccount), 2).ok());
}

TEST(SessionRegistry, ADeviceReplacingItsOwnLinkTakesNoFurtherPlace) {
  testing::FakeClock clock;
  SessionRegistry registry(clock);
  std::shared_ptr<DeviceLink> first = Link("d-1");
  ASSERT_TRUE(registry.RegisterWithin(first, 1).ok());

  absl::StatusOr<std::shared_ptr<DeviceLink>> again = registry.RegisterWithin(Link("d-1"), 1);

  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, first);
  EXPECT_EQ(registry.account_size(kAccount), 1u);
  // The replaced link's late goodbye frees nothing.
  EXPECT_FALSE(registry.Unregister("d-1", first.get()));
  EXPECT_FALSE(registry.RegisterWithin(Link("d-2"), 1).ok());
}

TEST(SessionRegistry, UnregisterGivesTheAccountsPlaceBack) {
  testing::FakeClock clock;
  SessionRegistry registry(clock);
  std::shared_ptr<DeviceLink> link = Link("d-1");
  ASSERT_TRUE(registry.RegisterWithin(link, 1).ok());
  ASSERT_TRUE(registry.Unregister("d-1", link.get()));
  EXPECT_EQ(registry.account_size(kAccount), 0u);
  EXPECT_TRUE(registry.RegisterWithin(Link("d-2"), 1).ok());
}

TEST(SessionRegistry, RegisterHasNoAccountLimitButCountsToo) {
  testing::FakeClock clock;
  SessionRegistry registry(clock);
  for (const char* device : {"d-1", "d-2", "d-3"}) registry.Register(Link(device));
  EXPECT_EQ(registry.account_size(kAccount), 3u);
  EXPECT_FALSE(registry.RegisterWithin(Link("d-4"), 3).ok());
  EXPECT_TRUE(registry.RegisterWithin(Link("d-4"), 0).ok());  // 0: no limit
}

}  // namespace
}  // namespace hive

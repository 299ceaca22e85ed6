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

// What a connect waiter was given: nothing yet, null (deadline or
// shutdown), or a link.
struct Woken {
  bool called = false;
  std::shared_ptr<DeviceLink> link;
  SessionRegistry::ConnectWaiter Waiter() {
    return [this](std::shared_ptr<DeviceLink> given) {
      called = true;
      link = std::move(given);
    };
  }
};

TEST(SessionRegistry, ExpireDueWakesOnlyTheWaitersPastTheirDeadlineInAnyOrderOfWaiting) {
  testing::FakeClock clock;
  SessionRegistry registry(clock);
  Woken late, early, later;
  ASSERT_TRUE(registry.AwaitConnect("d-1", clock.Now() + absl::Seconds(3), late.Waiter()).ok());
  ASSERT_TRUE(registry.AwaitConnect("d-2", clock.Now() + absl::Seconds(1), early.Waiter()).ok());
  ASSERT_TRUE(registry.AwaitConnect("d-1", clock.Now() + absl::Seconds(5), later.Waiter()).ok());
  EXPECT_EQ(registry.waiter_count(), 3u);

  clock.Advance(absl::Seconds(1));
  registry.ExpireDue();
  EXPECT_TRUE(early.called);
  EXPECT_EQ(early.link, nullptr);
  EXPECT_FALSE(late.called);
  EXPECT_FALSE(later.called);
  EXPECT_EQ(registry.waiter_count(), 2u);

  clock.Advance(absl::Seconds(2));
  registry.ExpireDue();
  EXPECT_TRUE(late.called);
  EXPECT_FALSE(later.called);

  // The one left is still woken by its device, and only once.
  std::shared_ptr<DeviceLink> link = Link("d-1");
  registry.Register(link);
  EXPECT_EQ(later.link, link);
  EXPECT_EQ(registry.waiter_count(), 0u);
  clock.Advance(absl::Seconds(10));
  later.link = nullptr;
  registry.ExpireDue();
  EXPECT_EQ(later.link, nullptr);
}

TEST(SessionRegistry, AWokenWaiterIsNotExpiredLater) {
  testing::FakeClock clock;
  SessionRegistry registry(clock);
  int calls = 0;
  ASSERT_TRUE(registry
                  .AwaitConnect("d-1", clock.Now() + absl::Seconds(1),
                                [&calls](const std::shared_ptr<DeviceLink>&) { ++calls; })
                  .ok());
  registry.Register(Link("d-1"));
  clock.Advance(absl::Seconds(2));
  registry.ExpireDue();
  registry.CloseWaiters();
  EXPECT_EQ(calls, 1);
}

TEST(SessionRegistry, WaitersBeyondTheLimitAreRefusedNamingTheFlagAndCounted) {
  testing::FakeClock clock;
  SessionRegistry registry(clock);
  LimitCounters counters;
  registry.LimitWaiters(2, &counters);
  Woken first, second, third;
  ASSERT_TRUE(registry.AwaitConnect("d-1", clock.Now() + absl::Seconds(5), first.Waiter()).ok());
  ASSERT_TRUE(registry.AwaitConnect("d-2", clock.Now() + absl::Seconds(5), second.Waiter()).ok());

  absl::Status refused = registry.AwaitConnect("d-3", clock.Now() + absl::Seconds(5), third.Waiter());

  EXPECT_EQ(refused, absl::ResourceExhaustedError(
                         "the bridge already has 2 calls waiting for devices to connect (--max-connect-waiters)"));
  EXPECT_FALSE(third.called);
  EXPECT_EQ(counters.value(Limit::kMaxConnectWaiters), 1u);
  // A connected device needs no place; a woken waiter gives its place back.
  registry.Register(Link("d-4"));
  EXPECT_TRUE(registry.AwaitConnect("d-4", clock.Now() + absl::Seconds(5), third.Waiter()).ok());
  EXPECT_TRUE(third.called);
  registry.Register(Link("d-1"));
  EXPECT_TRUE(first.called);
  Woken fourth;
  EXPECT_TRUE(registry.AwaitConnect("d-5", clock.Now() + absl::Seconds(5), fourth.Waiter()).ok());
  EXPECT_FALSE(fourth.called);
  EXPECT_EQ(registry.waiter_count(), 2u);
}

TEST(SessionRegistry, AwaitNextConnectIgnoresTheCurrentLinkAndGetsTheNextOne) {
  testing::FakeClock clock;
  SessionRegistry registry(clock);
  registry.Register(Link("d-1"));
  Woken next;
  ASSERT_TRUE(registry.AwaitNextConnect("d-1", clock.Now() + absl::Seconds(5), next.Waiter()).ok());
  EXPECT_FALSE(next.called);

  std::shared_ptr<DeviceLink> again = Link("d-1", kOtherAccount);
  registry.Register(again);
  EXPECT_EQ(next.link, again);
}

TEST(SessionRegistry, StopWaitingForgetsTheWaiterUncalledAndGivesItsPlaceBack) {
  testing::FakeClock clock;
  SessionRegistry registry(clock);
  registry.LimitWaiters(1, nullptr);
  Woken stopped, next;
  SessionRegistry::WaiterId parked = 0;
  ASSERT_TRUE(registry.AwaitConnect("d-1", clock.Now() + absl::Seconds(5), stopped.Waiter(), &parked).ok());
  ASSERT_NE(parked, 0u);

  registry.StopWaiting("d-1", parked);

  EXPECT_EQ(registry.waiter_count(), 0u);
  ASSERT_TRUE(registry.AwaitConnect("d-1", clock.Now() + absl::Seconds(5), next.Waiter()).ok());
  registry.Register(Link("d-1"));
  clock.Advance(absl::Seconds(10));
  registry.ExpireDue();
  EXPECT_FALSE(stopped.called);
  EXPECT_TRUE(next.called);
  // A waiter already woken is not there to stop.
  registry.StopWaiting("d-1", parked);
  EXPECT_EQ(registry.waiter_count(), 0u);
}

TEST(SessionRegistry, AWaiterCalledAtOnceIsNotParked) {
  testing::FakeClock clock;
  SessionRegistry registry(clock);
  registry.Register(Link("d-1"));
  Woken woken;
  SessionRegistry::WaiterId parked = 7;
  ASSERT_TRUE(registry.AwaitConnect("d-1", clock.Now() + absl::Seconds(5), woken.Waiter(), &parked).ok());
  EXPECT_TRUE(woken.called);
  EXPECT_EQ(parked, 0u);
}

TEST(SessionRegistry, CloseWaitersGivesEveryWaiterNullAndRefusesNoneAfterwards) {
  testing::FakeClock clock;
  SessionRegistry registry(clock);
  registry.LimitWaiters(1, nullptr);
  Woken waiting, after;
  ASSERT_TRUE(registry.AwaitConnect("d-1", clock.Now() + absl::Seconds(5), waiting.Waiter()).ok());
  registry.CloseWaiters();
  EXPECT_TRUE(waiting.called);
  EXPECT_EQ(registry.waiter_count(), 0u);
  EXPECT_TRUE(registry.AwaitConnect("d-2", clock.Now() + absl::Seconds(5), after.Waiter()).ok());
  EXPECT_TRUE(after.called);
  EXPECT_EQ(after.link, nullptr);
}

}  // namespace
}  // namespace hive

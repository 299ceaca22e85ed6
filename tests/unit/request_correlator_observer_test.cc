// tests/unit/request_correlator_observer_test.cc
// RequestCorrelator's OutcomeObserver (request-outcome events, the request
// queue) and Find (GetRequest).
#include <string>
#include <vector>

#include "bridge/request_correlator.h"
#include "gtest/gtest.h"
#include "tests/unit/support/fake_clock.h"

namespace hive {
namespace {

using hive::bridge::v1::REQUEST_STATUS_ACKED;
using hive::bridge::v1::REQUEST_STATUS_SENT;
using hive::bridge::v1::REQUEST_STATUS_SUCCEEDED;
using hive::bridge::v1::REQUEST_STATUS_UNSPECIFIED;
using hive::bridge::v1::WAIT_MODE_NONE;

constexpr char kDevice[] = "6f1c2a7e-3b44-4c1e-9a55-0d2b8f0e7a11";
constexpr char kAccount[] = "0b9e4d3c-8f21-4a7b-b6c2-5e1f9a3d2c44";
constexpr char kWatched[] = "c3d4e5f6-0718-4293-a4b5-c6d7e8f90a1b";
constexpr char kPlain[] = "d4e5f607-1829-43a4-b5c6-d7e8f90a1b2c";
constexpr RequestCorrelator::ConnectionId kConnection = 7;

class Changes final : public RequestCorrelator::OutcomeObserver {
 public:
  void OnOutcome(RequestCorrelator::OutcomeChange change) override { seen.push_back(std::move(change)); }
  std::vector<RequestCorrelator::OutcomeChange> seen;
};

class CorrelatorObserverTest : public ::testing::Test {
 protected:
  CorrelatorObserverTest() { correlator_.Observe(&changes_); }

  RequestCorrelator::WaiterId Send(const std::string& id, RequestCorrelator::Watch watch) {
    RequestCorrelator::Registration registration =
        correlator_.Await(id, kDevice, 1, WAIT_MODE_NONE, clock_.Now() + absl::Minutes(1), [](auto) {},
                          RequestCorrelator::IdSource::kCaller, {kAccount, watch});
    EXPECT_EQ(registration.role, RequestCorrelator::Role::kSendNow);
    return registration.waiter;
  }

  Changes changes_;
  testing::FakeClock clock_;
  RequestCorrelator correlator_{clock_, {}};
};

TEST_F(CorrelatorObserverTest, AWatchedRequestTellsEveryChangeWithItsAccount) {
  const RequestCorrelator::WaiterId sender = Send(kWatched, RequestCorrelator::Watch::kEvents);
  correlator_.MarkSent(kWatched, sender, kConnection);
  correlator_.OnAck(kDevice, kWatched);
  correlator_.OnAck(kDevice, kWatched);  // a repeat changes nothing
  RequestCorrelator::DeviceResult result;
  result.succeeded = true;
  correlator_.OnResult(kDevice, kWatched, result);
  ASSERT_EQ(changes_.seen.size(), 3u);
  EXPECT_EQ(changes_.seen[0].outcome.status(), REQUEST_STATUS_SENT);
  EXPECT_EQ(changes_.seen[1].outcome.status(), REQUEST_STATUS_ACKED);
  EXPECT_EQ(changes_.seen[2].outcome.status(), REQUEST_STATUS_SUCCEEDED);
  for (const RequestCorrelator::OutcomeChange& change : changes_.seen) {
    EXPECT_EQ(change.request_id, kWatched);
    EXPECT_EQ(change.device_id, kDevice);
    EXPECT_EQ(change.account_id, kAccount);
    EXPECT_EQ(change.watch, RequestCorrelator::Watch::kEvents);
    EXPECT_FALSE(change.unconfirmed);
  }
}

TEST_F(CorrelatorObserverTest, AnUnwatchedRequestTellsNothing) {
  const RequestCorrelator::WaiterId sender = Send(kPlain, RequestCorrelator::Watch::kNone);
  correlator_.MarkSent(kPlain, sender, kConnection);
  correlator_.OnAck(kDevice, kPlain);
  EXPECT_TRUE(changes_.seen.empty());
}

TEST_F(CorrelatorObserverTest, AConnectionClosedBeforeTheAnswerTellsUnconfirmed) {
  const RequestCorrelator::WaiterId sender = Send(kWatched, RequestCorrelator::Watch::kQueued);
  correlator_.MarkSent(kWatched, sender, kConnection);
  correlator_.FailAllFor(kDevice, kConnection, "close code 1006");
  ASSERT_EQ(changes_.seen.size(), 2u);
  EXPECT_TRUE(changes_.seen[1].unconfirmed);
  EXPECT_EQ(changes_.seen[1].closed_how, "close code 1006");
  EXPECT_EQ(changes_.seen[1].outcome.status(), REQUEST_STATUS_SENT);
  EXPECT_EQ(changes_.seen[1].watch, RequestCorrelator::Watch::kQueued);
}

TEST_F(CorrelatorObserverTest, ARequestCertainlyNotWrittenTellsNothing) {
  const RequestCorrelator::WaiterId sender = Send(kWatched, RequestCorrelator::Watch::kQueued);
  correlator_.Fail(kWatched, sender, absl::UnavailableError("device disconnected"));
  EXPECT_TRUE(changes_.seen.empty());
  EXPECT_FALSE(correlator_.Find(kWatched).has_value());
}

TEST_F(CorrelatorObserverTest, FindAnswersWhatIsRememberedAndNothingElse) {
  EXPECT_FALSE(correlator_.Find(kPlain).has_value());
  const RequestCorrelator::WaiterId sender = Send(kPlain, RequestCorrelator::Watch::kNone);
  std::optional<RequestCorrelator::Known> before = correlator_.Find(kPlain);
  ASSERT_TRUE(before.has_value());
  EXPECT_EQ(before->outcome.status(), REQUEST_STATUS_UNSPECIFIED);
  EXPECT_EQ(before->account_id, kAccount);
  correlator_.MarkSent(kPlain, sender, kConnection);
  correlator_.FailAllFor(kDevice, kConnection, "close code 1001");
  std::optional<RequestCorrelator::Known> after = correlator_.Find(kPlain);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->device_id, kDevice);
  EXPECT_EQ(after->outcome.status(), REQUEST_STATUS_SENT);
  EXPECT_TRUE(after->unconfirmed);
  EXPECT_EQ(after->closed_how, "close code 1001");
}

}  // namespace
}  // namespace hive

#include "bridge/bus/remote_calls.h"

#include <optional>

#include "gtest/gtest.h"
#include "tests/unit/support/fake_clock.h"

namespace hive {
namespace {

// Records the one outcome a call completes with.
struct Outcome {
  std::optional<absl::StatusOr<SendDeviceRequestResponse>> value;
  int calls = 0;
  RequestCorrelator::Done Done() {
    return [this](absl::StatusOr<SendDeviceRequestResponse> outcome) {
      value = std::move(outcome);
      ++calls;
    };
  }
};

class RemoteCallsTest : public ::testing::Test {
 protected:
  testing::FakeClock clock_;
  RemoteCalls calls_{clock_};
  absl::Time Later(absl::Duration by) { return clock_.Now() + by; }
};

TEST_F(RemoteCallsTest, AnswerCompletesTheCallOnceAndLaterAnswersAreIgnored) {
  Outcome outcome;
  const std::string id = calls_.Add("replica-a", Later(absl::Seconds(5)), outcome.Done());
  EXPECT_TRUE(calls_.Pending(id));
  SendDeviceRequestResponse response;
  response.set_request_id("r");
  calls_.Complete(id, response);
  calls_.Complete(id, absl::InternalError("late duplicate"));
  EXPECT_EQ(outcome.calls, 1);
  ASSERT_TRUE(outcome.value->ok());
  EXPECT_EQ((*outcome.value)->request_id(), "r");
  EXPECT_FALSE(calls_.Pending(id));
  EXPECT_EQ(calls_.size(), 0u);
}

TEST_F(RemoteCallsTest, NotHolderAnswerFromAnotherReplicaWaitsForTheHolders) {
  // The device moved from replica-a to replica-b; a's binding was still there.
  Outcome outcome;
  const std::string id = calls_.Add("replica-b", Later(absl::Seconds(5)), outcome.Done());
  calls_.Answer(id, "replica-a", /*holder=*/false, absl::NotFoundError("device is not connected"));
  EXPECT_EQ(outcome.calls, 0);
  SendDeviceRequestResponse response;
  calls_.Answer(id, "replica-b", /*holder=*/true, response);
  ASSERT_EQ(outcome.calls, 1);
  EXPECT_TRUE(outcome.value->ok());
}

TEST_F(RemoteCallsTest, NotHolderAnswerFromTheReplicaRoutedToIsFinal) {
  Outcome outcome;
  const std::string id = calls_.Add("replica-a", Later(absl::Seconds(5)), outcome.Done());
  calls_.Answer(id, "replica-a", /*holder=*/false, absl::NotFoundError("device is not connected"));
  ASSERT_EQ(outcome.calls, 1);
  EXPECT_EQ(outcome.value->status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RemoteCallsTest, EachCallGetsItsOwnId) {
  Outcome a, b;
  EXPECT_NE(calls_.Add("x", Later(absl::Seconds(1)), a.Done()), calls_.Add("x", Later(absl::Seconds(1)), b.Done()));
}

TEST_F(RemoteCallsTest, ReplicaGoingAwayFailsOnlyItsCalls) {
  Outcome on_a, on_b;
  calls_.Add("replica-a", Later(absl::Seconds(5)), on_a.Done());
  calls_.Add("replica-b", Later(absl::Seconds(5)), on_b.Done());
  calls_.FailReplica("replica-a", absl::UnavailableError("replica-a stopped answering"));
  ASSERT_EQ(on_a.calls, 1);
  EXPECT_EQ(on_a.value->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(on_b.calls, 0);
}

TEST_F(RemoteCallsTest, DeadlineFailsWithDeadlineExceededNamingTheReplica) {
  Outcome soon, later;
  calls_.Add("replica-a", Later(absl::Seconds(1)), soon.Done());
  calls_.Add("replica-a", Later(absl::Seconds(3)), later.Done());
  clock_.Advance(absl::Seconds(2));
  calls_.ExpireDue();
  ASSERT_EQ(soon.calls, 1);
  EXPECT_EQ(soon.value->status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(soon.value->status().message().find("replica-a"), absl::string_view::npos);
  EXPECT_EQ(later.calls, 0);
}

TEST_F(RemoteCallsTest, LosingTheBrokerFailsEveryCall) {
  Outcome a, b;
  calls_.Add("replica-a", Later(absl::Seconds(5)), a.Done());
  calls_.Add("replica-b", Later(absl::Seconds(5)), b.Done());
  calls_.FailAll(absl::UnavailableError("lost the connection to the message broker"));
  EXPECT_EQ(a.calls + b.calls, 2);
  EXPECT_EQ(calls_.size(), 0u);
}

}  // namespace
}  // namespace hive

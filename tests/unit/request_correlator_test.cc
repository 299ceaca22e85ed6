// tests/unit/request_correlator_test.cc
#include "bridge/request_correlator.h"

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/unit/support/fake_clock.h"

namespace hive {
namespace {

using google::protobuf::util::TimeUtil;
using hive::bridge::v1::REQUEST_STATUS_ACKED;
using hive::bridge::v1::REQUEST_STATUS_FAILED;
using hive::bridge::v1::REQUEST_STATUS_SENT;
using hive::bridge::v1::REQUEST_STATUS_SUCCEEDED;
using hive::bridge::v1::WAIT_MODE_ACK;
using hive::bridge::v1::WAIT_MODE_NONE;
using hive::bridge::v1::WAIT_MODE_RESULT;
using hive::bridge::v1::WAIT_MODE_UNSPECIFIED;
using testing::FakeClock;
using Role = RequestCorrelator::Role;

constexpr char kDevice[] = "6f1c2a7e-3b44-4c1e-9a55-0d2b8f0e7a11";
constexpr char kOtherDevice[] = "0b9e4d3c-8f21-4a7b-b6c2-5e1f9a3d2c44";
constexpr char kRequest[] = "c3d4e5f6-0718-4293-a4b5-c6d7e8f90a1b";
constexpr char kOtherRequest[] = "d4e5f607-1829-43a4-b5c6-d7e8f90a1b2c";

// Records what one waiter was told, and how many times. Declare it before
// the correlator: the correlator's destructor tells waiters still pending.
class Recorder {
 public:
  RequestCorrelator::Done Callback() {
    return [this](absl::StatusOr<SendDeviceRequestResponse> outcome) {
      ++calls_;
      outcome_ = std::move(outcome);
    };
  }
  int calls() const { return calls_; }
  bool completed() const { return calls_ > 0; }
  // Throw, failing the test, when the waiter has not completed.
  const absl::StatusOr<SendDeviceRequestResponse>& outcome() const { return outcome_.value(); }
  absl::StatusCode code() const { return outcome().status().code(); }

 private:
  int calls_ = 0;
  std::optional<absl::StatusOr<SendDeviceRequestResponse>> outcome_;
};

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Nanoseconds(TimeUtil::DurationToNanoseconds(d));
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(t));
}

RequestCorrelator::DeviceResult Succeeded(const std::string& version) {
  RequestCorrelator::DeviceResult result;
  result.succeeded = true;
  result.has_result = true;
  (*result.result.mutable_fields())["version"].set_string_value(version);
  result.exact_numbers["/serial"] = "18446744073709551615";
  return result;
}

RequestCorrelator::DeviceResult Failed(const std::string& error) {
  RequestCorrelator::DeviceResult result;
  result.error = error;
  return result;
}

absl::Time Later(const FakeClock& clock) { return clock.Now() + absl::Seconds(10); }

TEST(RequestCorrelator, NewRequestIdMustBeSent) {
  FakeClock clock;
  Recorder waiter;
  RequestCorrelator correlator(clock, {});

  const auto registration = correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), waiter.Callback());

  EXPECT_EQ(registration.role, Role::kSendNow);
  EXPECT_FALSE(waiter.completed());
  EXPECT_EQ(correlator.pending(), 1u);
}

TEST(RequestCorrelator, SameRequestIdJoinsWithoutSending) {
  FakeClock clock;
  Recorder first, retry;
  RequestCorrelator correlator(clock, {});

  const auto sent = correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), first.Callback());
  correlator.MarkSent(kRequest, sent.waiter);
  const auto joined = correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), retry.Callback());

  EXPECT_EQ(joined.role, Role::kJoined);
  EXPECT_NE(joined.waiter, sent.waiter);
  EXPECT_FALSE(retry.completed());
  ASSERT_TRUE(correlator.OnAck(kDevice, kRequest));
  ASSERT_TRUE(first.completed());
  ASSERT_TRUE(retry.completed());
  EXPECT_EQ(retry.outcome()->status(), REQUEST_STATUS_ACKED);
  EXPECT_EQ(correlator.pending(), 0u);
}

TEST(RequestCorrelator, WaitNoneCompletesWhenSent) {
  FakeClock clock;
  Recorder waiter;
  RequestCorrelator correlator(clock, {});

  const auto registration = correlator.Await(kRequest, kDevice, WAIT_MODE_NONE, Later(clock), waiter.Callback());
  EXPECT_FALSE(waiter.completed());
  clock.Advance(absl::Milliseconds(3));
  const absl::Time sent_at = clock.Now();
  correlator.MarkSent(kRequest, registration.waiter);

  ASSERT_TRUE(waiter.completed());
  ASSERT_TRUE(waiter.outcome().ok());
  EXPECT_EQ(waiter.outcome()->request_id(), kRequest);
  EXPECT_EQ(waiter.outcome()->status(), REQUEST_STATUS_SENT);
  EXPECT_EQ(FromProto(waiter.outcome()->sent_at()), sent_at);
  EXPECT_FALSE(waiter.outcome()->has_ack_latency());
}

TEST(RequestCorrelator, AckCompletesAckWaiterWithLatency) {
  FakeClock clock;
  Recorder waiter;
  RequestCorrelator correlator(clock, {});

  const auto registration = correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), waiter.Callback());
  correlator.MarkSent(kRequest, registration.waiter);
  EXPECT_FALSE(waiter.completed());
  clock.Advance(absl::Milliseconds(250));
  ASSERT_TRUE(correlator.OnAck(kDevice, kRequest));

  ASSERT_TRUE(waiter.completed());
  ASSERT_TRUE(waiter.outcome().ok());
  EXPECT_EQ(waiter.outcome()->status(), REQUEST_STATUS_ACKED);
  EXPECT_EQ(FromProto(waiter.outcome()->ack_latency()), absl::Milliseconds(250));
  EXPECT_FALSE(waiter.outcome()->has_result_latency());
}

TEST(RequestCorrelator, UnspecifiedWaitModeMeansAck) {
  FakeClock clock;
  Recorder waiter;
  RequestCorrelator correlator(clock, {});

  const auto registration = correlator.Await(kRequest, kDevice, WAIT_MODE_UNSPECIFIED, Later(clock), waiter.Callback());
  correlator.MarkSent(kRequest, registration.waiter);
  EXPECT_FALSE(waiter.completed());
  correlator.OnAck(kDevice, kRequest);

  ASSERT_TRUE(waiter.completed());
  EXPECT_EQ(waiter.outcome()->status(), REQUEST_STATUS_ACKED);
}

TEST(RequestCorrelator, AckDoesNotCompleteResultWaiter) {
  FakeClock clock;
  Recorder waiter;
  RequestCorrelator correlator(clock, {});

  const auto registration = correlator.Await(kRequest, kDevice, WAIT_MODE_RESULT, Later(clock), waiter.Callback());
  correlator.MarkSent(kRequest, registration.waiter);
  correlator.OnAck(kDevice, kRequest);

  EXPECT_FALSE(waiter.completed());
  EXPECT_EQ(correlator.pending(), 1u);
}

TEST(RequestCorrelator, ResultCompletesResultWaiterWithLatencies) {
  FakeClock clock;
  Recorder waiter;
  RequestCorrelator correlator(clock, {});

  const auto registration = correlator.Await(kRequest, kDevice, WAIT_MODE_RESULT, Later(clock), waiter.Callback());
  correlator.MarkSent(kRequest, registration.waiter);
  clock.Advance(absl::Milliseconds(40));
  correlator.OnAck(kDevice, kRequest);
  clock.Advance(absl::Seconds(2));
  ASSERT_TRUE(correlator.OnResult(kDevice, kRequest, Succeeded("1.4.2")));

  ASSERT_TRUE(waiter.completed());
  ASSERT_TRUE(waiter.outcome().ok());
  const SendDeviceRequestResponse& outcome = *waiter.outcome();
  EXPECT_EQ(outcome.status(), REQUEST_STATUS_SUCCEEDED);
  EXPECT_EQ(FromProto(outcome.ack_latency()), absl::Milliseconds(40));
  EXPECT_EQ(FromProto(outcome.result_latency()), absl::Milliseconds(2040));
  EXPECT_EQ(outcome.result().fields().at("version").string_value(), "1.4.2");
  EXPECT_EQ(outcome.result_exact_numbers().at("/serial"), "18446744073709551615");
  EXPECT_TRUE(outcome.error().empty());
}

TEST(RequestCorrelator, FailedResultCarriesDeviceError) {
  FakeClock clock;
  Recorder waiter;
  RequestCorrelator correlator(clock, {});

  const auto registration = correlator.Await(kRequest, kDevice, WAIT_MODE_RESULT, Later(clock), waiter.Callback());
  correlator.MarkSent(kRequest, registration.waiter);
  correlator.OnAck(kDevice, kRequest);
  correlator.OnResult(kDevice, kRequest, Failed("disk full"));

  ASSERT_TRUE(waiter.completed());
  ASSERT_TRUE(waiter.outcome().ok()) << "a device's failure is an outcome, not an RPC error";
  EXPECT_EQ(waiter.outcome()->status(), REQUEST_STATUS_FAILED);
  EXPECT_EQ(waiter.outcome()->error(), "disk full");
}

TEST(RequestCorrelator, ResultImpliesAckForAckWaiters) {
  FakeClock clock;
  Recorder ack_waiter, result_waiter;
  RequestCorrelator correlator(clock, {});

  const auto registration = correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), ack_waiter.Callback());
  correlator.Await(kRequest, kDevice, WAIT_MODE_RESULT, Later(clock), result_waiter.Callback());
  correlator.MarkSent(kRequest, registration.waiter);
  clock.Advance(absl::Milliseconds(70));
  correlator.OnResult(kDevice, kRequest, Succeeded("2.0.0"));

  ASSERT_TRUE(ack_waiter.completed());
  ASSERT_TRUE(result_waiter.completed());
  EXPECT_EQ(ack_waiter.outcome()->status(), REQUEST_STATUS_SUCCEEDED);
  EXPECT_EQ(FromProto(ack_waiter.outcome()->ack_latency()), absl::Milliseconds(70));
  EXPECT_EQ(FromProto(result_waiter.outcome()->result_latency()), absl::Milliseconds(70));
}

TEST(RequestCorrelator, ResponseOvertakingMarkSentCountsAsSent) {
  FakeClock clock;
  Recorder waiter;
  RequestCorrelator correlator(clock, {});

  const auto registration = correlator.Await(kRequest, kDevice, WAIT_MODE_NONE, Later(clock), waiter.Callback());
  const absl::Time acked_at = clock.Now();
  correlator.OnAck(kDevice, kRequest);
  clock.Advance(absl::Milliseconds(5));
  correlator.MarkSent(kRequest, registration.waiter);

  ASSERT_EQ(waiter.calls(), 1);
  EXPECT_EQ(waiter.outcome()->status(), REQUEST_STATUS_ACKED);
  EXPECT_EQ(FromProto(waiter.outcome()->sent_at()), acked_at);
  EXPECT_EQ(FromProto(waiter.outcome()->ack_latency()), absl::ZeroDuration());
}

TEST(RequestCorrelator, RepeatedResponsesKeepTheFirst) {
  FakeClock clock;
  Recorder waiter, retry;
  RequestCorrelator correlator(clock, {});

  const auto registration = correlator.Await(kRequest, kDevice, WAIT_MODE_RESULT, Later(clock), waiter.Callback());
  correlator.MarkSent(kRequest, registration.waiter);
  clock.Advance(absl::Milliseconds(10));
  EXPECT_TRUE(correlator.OnAck(kDevice, kRequest));
  clock.Advance(absl::Milliseconds(10));
  EXPECT_TRUE(correlator.OnAck(kDevice, kRequest));
  EXPECT_TRUE(correlator.OnResult(kDevice, kRequest, Succeeded("1.0.0")));
  EXPECT_TRUE(correlator.OnResult(kDevice, kRequest, Failed("late duplicate")));
  correlator.Await(kRequest, kDevice, WAIT_MODE_RESULT, Later(clock), retry.Callback());

  ASSERT_EQ(waiter.calls(), 1);
  ASSERT_EQ(retry.calls(), 1);
  EXPECT_EQ(retry.outcome()->status(), REQUEST_STATUS_SUCCEEDED);
  EXPECT_EQ(FromProto(retry.outcome()->ack_latency()), absl::Milliseconds(10));
}

TEST(RequestCorrelator, DeadlinesArePerWaiter) {
  FakeClock clock;
  Recorder hasty, patient;
  RequestCorrelator correlator(clock, {});

  const auto registration =
      correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, clock.Now() + absl::Seconds(1), hasty.Callback());
  correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, clock.Now() + absl::Seconds(30), patient.Callback());
  correlator.MarkSent(kRequest, registration.waiter);
  clock.Advance(absl::Seconds(1));
  correlator.ExpireDue();

  ASSERT_TRUE(hasty.completed());
  EXPECT_EQ(hasty.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_FALSE(patient.completed());
  correlator.OnAck(kDevice, kRequest);
  ASSERT_TRUE(patient.completed());
  EXPECT_EQ(patient.outcome()->status(), REQUEST_STATUS_ACKED);
}

TEST(RequestCorrelator, ExpiredWaiterSaysWhatDidNotArrive) {
  FakeClock clock;
  Recorder for_ack, for_result;
  RequestCorrelator correlator(clock, {});

  const auto registration = correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), for_ack.Callback());
  correlator.Await(kRequest, kDevice, WAIT_MODE_RESULT, Later(clock), for_result.Callback());
  correlator.MarkSent(kRequest, registration.waiter);
  clock.Advance(absl::Seconds(10));
  correlator.ExpireDue();

  ASSERT_TRUE(for_ack.completed());
  ASSERT_TRUE(for_result.completed());
  EXPECT_EQ(for_ack.outcome().status().message(), "no ack from device within deadline");
  EXPECT_EQ(for_result.outcome().status().message(), "no result from device within deadline");
}

TEST(RequestCorrelator, LateAckAfterTimeoutReachesRetryWithoutResend) {
  FakeClock clock;
  Recorder first, retry;
  RequestCorrelator correlator(clock, {});

  const auto registration = correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), first.Callback());
  correlator.MarkSent(kRequest, registration.waiter);
  clock.Advance(absl::Seconds(10));
  correlator.ExpireDue();
  ASSERT_EQ(first.code(), absl::StatusCode::kDeadlineExceeded);
  clock.Advance(absl::Seconds(5));
  EXPECT_TRUE(correlator.OnAck(kDevice, kRequest)) << "a timed-out request is still known";

  const auto again = correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), retry.Callback());

  EXPECT_EQ(again.role, Role::kJoined);
  ASSERT_TRUE(retry.completed());
  EXPECT_EQ(retry.outcome()->status(), REQUEST_STATUS_ACKED);
  EXPECT_EQ(FromProto(retry.outcome()->ack_latency()), absl::Seconds(15));
  EXPECT_EQ(first.calls(), 1);
}

TEST(RequestCorrelator, RetryOfAckedRequestCompletesAtOnce) {
  FakeClock clock;
  Recorder first, retry;
  RequestCorrelator correlator(clock, {});

  const auto registration = correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), first.Callback());
  correlator.MarkSent(kRequest, registration.waiter);
  correlator.OnAck(kDevice, kRequest);
  clock.Advance(absl::Minutes(1));
  const auto again = correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), retry.Callback());

  EXPECT_EQ(again.role, Role::kJoined);
  ASSERT_TRUE(retry.completed());
  EXPECT_EQ(retry.outcome()->status(), REQUEST_STATUS_ACKED);
  EXPECT_EQ(retry.outcome()->sent_at(), first.outcome()->sent_at());
}

TEST(RequestCorrelator, RetryOfAckedRequestWaitsForResult) {
  FakeClock clock;
  Recorder first, retry;
  RequestCorrelator correlator(clock, {});

  const auto registration = correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), first.Callback());
  correlator.MarkSent(kRequest, registration.waiter);
  correlator.OnAck(kDevice, kRequest);
  correlator.Await(kRequest, kDevice, WAIT_MODE_RESULT, Later(clock), retry.Callback());
  EXPECT_FALSE(retry.completed());
  correlator.OnResult(kDevice, kRequest, Succeeded("3.1.0"));

  ASSERT_TRUE(retry.completed());
  EXPECT_EQ(retry.outcome()->status(), REQUEST_STATUS_SUCCEEDED);
}

TEST(RequestCorrelator, TimedOutRequestIsRememberedForTheDedupeWindow) {
  FakeClock clock;
  Recorder first, retry;
  RequestCorrelator correlator(clock, {absl::Minutes(5)});

  const auto registration =
      correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, clock.Now() + absl::Minutes(10), first.Callback());
  correlator.MarkSent(kRequest, registration.waiter);
  clock.Advance(absl::Minutes(10));
  correlator.ExpireDue();
  ASSERT_EQ(first.code(), absl::StatusCode::kDeadlineExceeded);
  clock.Advance(absl::Minutes(4));
  correlator.ExpireDue();

  EXPECT_EQ(correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), retry.Callback()).role, Role::kJoined)
      << "the window counts from when the last waiter left, not from the send";
}

TEST(RequestCorrelator, DedupeWindowExpiryForgetsTheRequest) {
  FakeClock clock;
  Recorder first, retry;
  RequestCorrelator correlator(clock, {absl::Minutes(5)});

  const auto registration = correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), first.Callback());
  correlator.MarkSent(kRequest, registration.waiter);
  correlator.OnAck(kDevice, kRequest);
  clock.Advance(absl::Minutes(5) - absl::Seconds(1));
  correlator.ExpireDue();
  EXPECT_TRUE(correlator.OnAck(kDevice, kRequest)) << "still remembered inside the window";
  clock.Advance(absl::Seconds(1));
  correlator.ExpireDue();

  EXPECT_FALSE(correlator.OnAck(kDevice, kRequest));
  EXPECT_EQ(correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), retry.Callback()).role, Role::kSendNow);
  EXPECT_FALSE(retry.completed());
}

TEST(RequestCorrelator, FailForgetsSoRetrySendsAgain) {
  FakeClock clock;
  Recorder first, joined, retry;
  RequestCorrelator correlator(clock, {});

  const auto registration = correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), first.Callback());
  correlator.Await(kRequest, kDevice, WAIT_MODE_RESULT, Later(clock), joined.Callback());
  correlator.Fail(kRequest, registration.waiter, absl::ResourceExhaustedError("device send queue full"));

  ASSERT_TRUE(first.completed());
  ASSERT_TRUE(joined.completed());
  EXPECT_EQ(first.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(joined.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), retry.Callback()).role, Role::kSendNow);
}

TEST(RequestCorrelator, StaleSenderCannotTouchRetry) {
  FakeClock clock;
  Recorder first, retry;
  RequestCorrelator correlator(clock, {});

  const auto stale = correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), first.Callback());
  correlator.FailAllFor(kDevice, absl::UnavailableError("device disconnected"));
  const auto fresh = correlator.Await(kRequest, kDevice, WAIT_MODE_NONE, Later(clock), retry.Callback());
  ASSERT_EQ(fresh.role, Role::kSendNow);
  correlator.MarkSent(kRequest, stale.waiter);
  correlator.Fail(kRequest, stale.waiter, absl::NotFoundError("device not connected"));

  EXPECT_FALSE(retry.completed()) << "only the retry's own sender speaks for its send";
  correlator.MarkSent(kRequest, fresh.waiter);
  ASSERT_TRUE(retry.completed());
  EXPECT_EQ(retry.outcome()->status(), REQUEST_STATUS_SENT);
}

TEST(RequestCorrelator, FailAllForFailsOnlyThatDevicesUnackedRequests) {
  FakeClock clock;
  Recorder mine, theirs;
  RequestCorrelator correlator(clock, {});
  const absl::Status gone = absl::UnavailableError("device disconnected");

  const auto a = correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), mine.Callback());
  const auto b = correlator.Await(kOtherRequest, kOtherDevice, WAIT_MODE_ACK, Later(clock), theirs.Callback());
  correlator.MarkSent(kRequest, a.waiter);
  correlator.MarkSent(kOtherRequest, b.waiter);
  correlator.FailAllFor(kDevice, gone);

  ASSERT_TRUE(mine.completed());
  EXPECT_EQ(mine.outcome().status(), gone);
  EXPECT_FALSE(theirs.completed());
  EXPECT_FALSE(correlator.OnAck(kDevice, kRequest)) << "an unacked request is forgotten";
  EXPECT_TRUE(correlator.OnAck(kOtherDevice, kOtherRequest));
  EXPECT_TRUE(theirs.completed());
}

TEST(RequestCorrelator, FailAllForFailsResultWaitersButKeepsTheAck) {
  FakeClock clock;
  Recorder for_result, retry;
  RequestCorrelator correlator(clock, {});

  const auto registration = correlator.Await(kRequest, kDevice, WAIT_MODE_RESULT, Later(clock), for_result.Callback());
  correlator.MarkSent(kRequest, registration.waiter);
  correlator.OnAck(kDevice, kRequest);
  correlator.FailAllFor(kDevice, absl::UnavailableError("device disconnected"));

  ASSERT_TRUE(for_result.completed());
  EXPECT_EQ(for_result.code(), absl::StatusCode::kUnavailable);
  const auto again = correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), retry.Callback());
  EXPECT_EQ(again.role, Role::kJoined) << "the device has the request: never send it twice";
  ASSERT_TRUE(retry.completed());
  EXPECT_EQ(retry.outcome()->status(), REQUEST_STATUS_ACKED);
}

TEST(RequestCorrelator, FailAllFailsEveryWaiterAndForgets) {
  FakeClock clock;
  Recorder a, b;
  RequestCorrelator correlator(clock, {});

  correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), a.Callback());
  correlator.Await(kOtherRequest, kOtherDevice, WAIT_MODE_RESULT, Later(clock), b.Callback());
  correlator.FailAll(absl::UnavailableError("shutting down"));

  EXPECT_EQ(a.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(b.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(correlator.pending(), 0u);
  EXPECT_FALSE(correlator.OnAck(kDevice, kRequest));
}

TEST(RequestCorrelator, SameRequestIdForAnotherDeviceIsRejected) {
  FakeClock clock;
  Recorder first, intruder;
  RequestCorrelator correlator(clock, {});

  correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), first.Callback());
  const auto registration = correlator.Await(kRequest, kOtherDevice, WAIT_MODE_ACK, Later(clock), intruder.Callback());

  EXPECT_EQ(registration.role, Role::kJoined);
  ASSERT_TRUE(intruder.completed());
  EXPECT_EQ(intruder.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(intruder.outcome().status().message(),
            absl::StrCat("request_id ", kRequest, " already used for another device"));
  EXPECT_FALSE(first.completed());
}

TEST(RequestCorrelator, UnknownRequestIdIsReported) {
  FakeClock clock;
  RequestCorrelator correlator(clock, {});

  EXPECT_FALSE(correlator.OnAck(kDevice, kRequest));
  EXPECT_FALSE(correlator.OnResult(kDevice, kRequest, Succeeded("1.0.0")));
}

TEST(RequestCorrelator, ResponseFromAnotherDeviceIsIgnored) {
  FakeClock clock;
  Recorder waiter;
  RequestCorrelator correlator(clock, {});

  const auto registration = correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), waiter.Callback());
  correlator.MarkSent(kRequest, registration.waiter);

  EXPECT_FALSE(correlator.OnAck(kOtherDevice, kRequest));
  EXPECT_FALSE(correlator.OnResult(kOtherDevice, kRequest, Succeeded("6.6.6")));
  EXPECT_FALSE(waiter.completed());
}

TEST(RequestCorrelator, CancelCompletesOnlyThatWaiter) {
  FakeClock clock;
  Recorder leaving, staying;
  RequestCorrelator correlator(clock, {});

  const auto registration = correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), leaving.Callback());
  correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), staying.Callback());
  correlator.MarkSent(kRequest, registration.waiter);
  correlator.Cancel(kRequest, registration.waiter);
  correlator.Cancel(kRequest, registration.waiter);

  ASSERT_EQ(leaving.calls(), 1);
  EXPECT_EQ(leaving.code(), absl::StatusCode::kCancelled);
  EXPECT_FALSE(staying.completed());
  correlator.OnAck(kDevice, kRequest);
  EXPECT_EQ(staying.calls(), 1);
  EXPECT_EQ(leaving.calls(), 1);
}

TEST(RequestCorrelator, EveryWaiterCompletesExactlyOnce) {
  FakeClock clock;
  std::vector<Recorder> waiters(8);
  {
    RequestCorrelator correlator(clock, {});
    const auto sent = correlator.Await(kRequest, kDevice, WAIT_MODE_NONE, Later(clock), waiters[0].Callback());
    correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), waiters[1].Callback());
    correlator.Await(kRequest, kDevice, WAIT_MODE_RESULT, Later(clock), waiters[2].Callback());
    const auto cancelled = correlator.Await(kRequest, kDevice, WAIT_MODE_RESULT, Later(clock), waiters[3].Callback());
    correlator.Await(kRequest, kOtherDevice, WAIT_MODE_ACK, Later(clock), waiters[4].Callback());
    correlator.Await(kOtherRequest, kOtherDevice, WAIT_MODE_RESULT, Later(clock), waiters[5].Callback());
    correlator.Await(kOtherRequest, kOtherDevice, WAIT_MODE_RESULT, absl::InfiniteFuture(), waiters[6].Callback());

    correlator.MarkSent(kRequest, sent.waiter);
    correlator.MarkSent(kRequest, sent.waiter);
    correlator.Cancel(kRequest, cancelled.waiter);
    correlator.OnAck(kDevice, kRequest);
    correlator.OnAck(kDevice, kRequest);
    correlator.OnResult(kDevice, kRequest, Succeeded("1.0.0"));
    correlator.Cancel(kRequest, cancelled.waiter);
    correlator.Await(kRequest, kDevice, WAIT_MODE_RESULT, Later(clock), waiters[7].Callback());
    correlator.FailAllFor(kDevice, absl::UnavailableError("device disconnected"));
    clock.Advance(absl::Seconds(10));
    correlator.ExpireDue();
    correlator.ExpireDue();
  }  // waiters[6] has no deadline: the correlator's destruction completes it.

  for (size_t i = 0; i < waiters.size(); ++i) {
    EXPECT_EQ(waiters[i].calls(), 1) << "waiter " << i;
  }
  EXPECT_EQ(waiters[5].code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(waiters[6].code(), absl::StatusCode::kUnavailable);
}

TEST(RequestCorrelator, DoneMayCallBackIntoTheCorrelator) {
  FakeClock clock;
  Recorder nested;
  RequestCorrelator correlator(clock, {});
  std::optional<Role> nested_role;

  const auto registration =
      correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), [&](absl::StatusOr<SendDeviceRequestResponse>) {
        // Joins the finished request (completes at once) and starts another.
        correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), nested.Callback());
        nested_role = correlator
                          .Await(kOtherRequest, kDevice, WAIT_MODE_ACK, Later(clock),
                                 [](absl::StatusOr<SendDeviceRequestResponse>) {})
                          .role;
        correlator.FailAllFor(kDevice, absl::UnavailableError("device disconnected"));
      });
  correlator.MarkSent(kRequest, registration.waiter);
  correlator.OnAck(kDevice, kRequest);

  EXPECT_EQ(nested.calls(), 1);
  EXPECT_EQ(nested_role, Role::kSendNow);
  EXPECT_EQ(correlator.pending(), 0u);
}

TEST(RequestCorrelator, PendingCountsRequestsWithWaiters) {
  FakeClock clock;
  Recorder a, b, c;
  RequestCorrelator correlator(clock, {});

  const auto first = correlator.Await(kRequest, kDevice, WAIT_MODE_ACK, Later(clock), a.Callback());
  correlator.Await(kRequest, kDevice, WAIT_MODE_RESULT, Later(clock), b.Callback());
  correlator.Await(kOtherRequest, kDevice, WAIT_MODE_ACK, Later(clock), c.Callback());
  EXPECT_EQ(correlator.pending(), 2u);
  correlator.MarkSent(kRequest, first.waiter);
  correlator.OnAck(kDevice, kRequest);
  EXPECT_EQ(correlator.pending(), 2u) << "one waiter still awaits the result";
  correlator.OnResult(kDevice, kRequest, Succeeded("1.0.0"));
  EXPECT_EQ(correlator.pending(), 1u);
}

TEST(RequestCorrelator, ConcurrentCallersCompleteExactlyOnceAndSendOnce) {
  constexpr int kThreads = 4;
  constexpr int kRequests = 2000;
  FakeClock clock;
  RequestCorrelator correlator(clock, {});
  std::vector<std::atomic<int>> completions(kRequests);
  std::atomic<int> sends{0};
  std::atomic<int> errors{0};
  std::atomic<bool> stop{false};

  // Every thread awaits every request id, so each id sees one sender, three
  // joiners and acks or results racing with them and with the sender.
  auto caller = [&](int thread) {
    for (int n = 0; n < kRequests; ++n) {
      const int i = (n + thread * kRequests / kThreads) % kRequests;
      const std::string request_id = absl::StrCat("request-", i);
      const std::string device_id = absl::StrCat("device-", i % 7);
      const WaitMode mode = i % 2 == 0 ? WAIT_MODE_ACK : WAIT_MODE_RESULT;
      const auto registration = correlator.Await(request_id, device_id, mode, absl::InfiniteFuture(),
                                                 [&, i](absl::StatusOr<SendDeviceRequestResponse> outcome) {
                                                   if (!outcome.ok()) errors.fetch_add(1);
                                                   completions[i].fetch_add(1);
                                                 });
      if (registration.role == Role::kSendNow) {
        sends.fetch_add(1);
        correlator.MarkSent(request_id, registration.waiter);
      }
      correlator.OnAck(device_id, request_id);
      if (mode == WAIT_MODE_RESULT) correlator.OnResult(device_id, request_id, Succeeded("1"));
    }
  };
  std::thread timer([&] {
    while (!stop.load()) {
      correlator.ExpireDue();
      correlator.pending();
    }
  });
  std::vector<std::thread> callers;
  for (int t = 0; t < kThreads; ++t) callers.emplace_back(caller, t);
  for (std::thread& t : callers) t.join();
  stop.store(true);
  timer.join();

  EXPECT_EQ(sends.load(), kRequests);
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(correlator.pending(), 0u);
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_EQ(completions[i].load(), kThreads) << "request " << i;
  }
}

// --- Limits -------------------------------------------------------------------

RequestCorrelator::Options Limited(size_t per_device, size_t in_all, LimitCounters* counters = nullptr) {
  RequestCorrelator::Options options;
  options.max_pending_per_device = per_device;
  options.max_pending = in_all;
  options.counters = counters;
  return options;
}

std::string RequestId(int i) { return absl::StrCat("00000000-0000-4000-8000-", absl::Dec(i, absl::kZeroPad12)); }

TEST(RequestCorrelator, RequestOverTheDeviceLimitIsResourceExhaustedNamingTheLimit) {
  FakeClock clock;
  LimitCounters counters;
  Recorder first, second, third, other;
  RequestCorrelator correlator(clock, Limited(2, 0, &counters));
  EXPECT_EQ(correlator.Await(RequestId(1), kDevice, WAIT_MODE_ACK, Later(clock), first.Callback()).role,
            Role::kSendNow);
  EXPECT_EQ(correlator.Await(RequestId(2), kDevice, WAIT_MODE_ACK, Later(clock), second.Callback()).role,
            Role::kSendNow);

  EXPECT_EQ(correlator.Await(RequestId(3), kDevice, WAIT_MODE_ACK, Later(clock), third.Callback()).role, Role::kJoined);
  EXPECT_EQ(third.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(third.outcome().status().message(),
            absl::StrCat("device ", kDevice,
                         " already has 2 requests in flight (--max-requests-per-device); retry once one completes"));
  EXPECT_EQ(counters.value(Limit::kMaxRequestsPerDevice), 1u);
  // Another device has room of its own.
  EXPECT_EQ(correlator.Await(RequestId(4), kOtherDevice, WAIT_MODE_ACK, Later(clock), other.Callback()).role,
            Role::kSendNow);
  EXPECT_FALSE(other.completed());
  EXPECT_EQ(correlator.pending(), 3u);
}

TEST(RequestCorrelator, ARefusedRequestIsNotRememberedSoItsRetrySendsOnceThereIsRoom) {
  FakeClock clock;
  Recorder first, refused, retry;
  RequestCorrelator correlator(clock, Limited(1, 0));
  auto sent = correlator.Await(RequestId(1), kDevice, WAIT_MODE_ACK, Later(clock), first.Callback());
  correlator.MarkSent(RequestId(1), sent.waiter);
  correlator.Await(RequestId(2), kDevice, WAIT_MODE_ACK, Later(clock), refused.Callback());
  ASSERT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);

  ASSERT_TRUE(correlator.OnAck(kDevice, RequestId(1)));  // the first completes: room again

  EXPECT_EQ(correlator.Await(RequestId(2), kDevice, WAIT_MODE_ACK, Later(clock), retry.Callback()).role,
            Role::kSendNow);
  EXPECT_FALSE(retry.completed());
}

TEST(RequestCorrelator, EveryWayARequestEndsGivesBackItsPlace) {
  FakeClock clock;
  Recorder acked, answered, timed_out, cancelled, failed, none, disconnected, last;
  RequestCorrelator correlator(clock, Limited(1, 0));
  const auto fill = [&](int i, WaitMode mode, Recorder& recorder) {
    auto registration = correlator.Await(RequestId(i), kDevice, mode, Later(clock), recorder.Callback());
    EXPECT_EQ(registration.role, Role::kSendNow) << "request " << i;
    return registration;
  };
  auto r1 = fill(1, WAIT_MODE_ACK, acked);
  correlator.MarkSent(RequestId(1), r1.waiter);
  correlator.OnAck(kDevice, RequestId(1));
  auto r2 = fill(2, WAIT_MODE_RESULT, answered);
  correlator.MarkSent(RequestId(2), r2.waiter);
  correlator.OnResult(kDevice, RequestId(2), Succeeded("2"));
  fill(3, WAIT_MODE_ACK, timed_out);
  clock.Advance(absl::Seconds(11));
  correlator.ExpireDue();
  auto r4 = fill(4, WAIT_MODE_ACK, cancelled);
  correlator.Cancel(RequestId(4), r4.waiter);
  auto r5 = fill(5, WAIT_MODE_ACK, failed);
  correlator.Fail(RequestId(5), r5.waiter, absl::ResourceExhaustedError("device send queue full"));
  auto r6 = fill(6, WAIT_MODE_NONE, none);
  correlator.MarkSent(RequestId(6), r6.waiter);
  fill(7, WAIT_MODE_ACK, disconnected);
  correlator.FailAllFor(kDevice, absl::UnavailableError("device disconnected"));

  fill(8, WAIT_MODE_ACK, last);
  EXPECT_FALSE(last.completed());
  EXPECT_EQ(correlator.pending(), 1u);
}

TEST(RequestCorrelator, RetriesJoiningAPendingOrAnsweredRequestTakeNoFurtherPlace) {
  FakeClock clock;
  Recorder first, joined, answered_retry, holder;
  RequestCorrelator correlator(clock, Limited(1, 0));
  auto sent = correlator.Await(RequestId(1), kDevice, WAIT_MODE_RESULT, Later(clock), first.Callback());
  correlator.MarkSent(RequestId(1), sent.waiter);
  // A retry of the pending request joins it though the device is full.
  EXPECT_EQ(correlator.Await(RequestId(1), kDevice, WAIT_MODE_RESULT, Later(clock), joined.Callback()).role,
            Role::kJoined);
  EXPECT_FALSE(joined.completed());
  correlator.OnResult(kDevice, RequestId(1), Succeeded("1"));
  ASSERT_TRUE(joined.outcome().ok());

  ASSERT_EQ(correlator.Await(RequestId(2), kDevice, WAIT_MODE_ACK, Later(clock), holder.Callback()).role,
            Role::kSendNow);
  // The device is full again, yet a retry of the answered request gets its
  // stored outcome rather than a refusal.
  correlator.Await(RequestId(1), kDevice, WAIT_MODE_RESULT, Later(clock), answered_retry.Callback());
  ASSERT_TRUE(answered_retry.outcome().ok()) << answered_retry.outcome().status();
  EXPECT_EQ(answered_retry.outcome()->status(), REQUEST_STATUS_SUCCEEDED);
}

TEST(RequestCorrelator, RequestOverThePendingLimitIsResourceExhaustedForAnyDevice) {
  FakeClock clock;
  LimitCounters counters;
  Recorder a, b, refused, later;
  RequestCorrelator correlator(clock, Limited(0, 2, &counters));
  correlator.Await(RequestId(1), kDevice, WAIT_MODE_ACK, Later(clock), a.Callback());
  correlator.Await(RequestId(2), kOtherDevice, WAIT_MODE_ACK, Later(clock), b.Callback());

  EXPECT_EQ(correlator.Await(RequestId(3), kOtherDevice, WAIT_MODE_ACK, Later(clock), refused.Callback()).role,
            Role::kJoined);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.outcome().status().message(),
            "the bridge already has 2 requests pending (--max-pending-requests); retry later");
  EXPECT_EQ(counters.value(Limit::kMaxPendingRequests), 1u);

  correlator.FailAllFor(kDevice, absl::UnavailableError("device disconnected"));
  EXPECT_EQ(correlator.Await(RequestId(3), kOtherDevice, WAIT_MODE_ACK, Later(clock), later.Callback()).role,
            Role::kSendNow);
}

TEST(RequestCorrelator, ConcurrentCallersNeverExceedTheDeviceLimit) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  constexpr size_t kLimit = 3;
  FakeClock clock;
  std::vector<Recorder> after(kLimit);
  RequestCorrelator correlator(clock, Limited(kLimit, 0));
  std::atomic<int> in_flight{0};
  std::atomic<int> most{0};
  std::atomic<int> refused{0};
  const auto caller = [&](int t) {
    for (int i = 0; i < kPerThread; ++i) {
      const std::string request_id = RequestId(t * kPerThread + i);
      Recorder recorder;
      auto registration = correlator.Await(request_id, kDevice, WAIT_MODE_ACK, Later(clock), recorder.Callback());
      if (registration.role != Role::kSendNow) {
        ASSERT_EQ(recorder.code(), absl::StatusCode::kResourceExhausted);
        refused.fetch_add(1);
        continue;
      }
      const int now_in_flight = in_flight.fetch_add(1) + 1;
      int seen = most.load();
      while (now_in_flight > seen && !most.compare_exchange_weak(seen, now_in_flight)) {
      }
      correlator.MarkSent(request_id, registration.waiter);
      in_flight.fetch_sub(1);  // before the ack gives the place back
      correlator.OnAck(kDevice, request_id);
      ASSERT_TRUE(recorder.completed());
    }
  };
  std::vector<std::thread> callers;
  for (int t = 0; t < kThreads; ++t) callers.emplace_back(caller, t);
  for (std::thread& t : callers) t.join();

  EXPECT_LE(most.load(), static_cast<int>(kLimit));
  EXPECT_EQ(correlator.pending(), 0u);
  // Every place came back.
  for (size_t i = 0; i < kLimit; ++i) {
    EXPECT_EQ(
        correlator
            .Await(RequestId(100000 + static_cast<int>(i)), kDevice, WAIT_MODE_ACK, Later(clock), after[i].Callback())
            .role,
        Role::kSendNow);
  }
}

}  // namespace
}  // namespace hive

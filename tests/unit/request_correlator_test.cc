// tests/unit/request_correlator_test.cc
#include "bridge/request_correlator.h"

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
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
// What the requests ask (DigestOf); the correlator only compares them.
constexpr RequestCorrelator::Digest kDigest = 0x5eed;
constexpr RequestCorrelator::Digest kOtherDigest = 0xd1ff;
// The device's connections: the one the requests are written on, and the
// one replacing it.
constexpr RequestCorrelator::ConnectionId kConnection = 7;
constexpr RequestCorrelator::ConnectionId kNextConnection = 8;

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

  const auto registration =
      correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), waiter.Callback());

  EXPECT_EQ(registration.role, Role::kSendNow);
  EXPECT_FALSE(waiter.completed());
  EXPECT_EQ(correlator.pending(), 1u);
}

TEST(RequestCorrelator, SameRequestIdJoinsWithoutSending) {
  FakeClock clock;
  Recorder first, retry;
  RequestCorrelator correlator(clock, {});

  const auto sent = correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), first.Callback());
  correlator.MarkSent(kRequest, sent.waiter, kConnection);
  const auto joined = correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), retry.Callback());

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

  const auto registration =
      correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_NONE, Later(clock), waiter.Callback());
  EXPECT_FALSE(waiter.completed());
  clock.Advance(absl::Milliseconds(3));
  const absl::Time sent_at = clock.Now();
  correlator.MarkSent(kRequest, registration.waiter, kConnection);

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

  const auto registration =
      correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), waiter.Callback());
  correlator.MarkSent(kRequest, registration.waiter, kConnection);
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

  const auto registration =
      correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_UNSPECIFIED, Later(clock), waiter.Callback());
  correlator.MarkSent(kRequest, registration.waiter, kConnection);
  EXPECT_FALSE(waiter.completed());
  correlator.OnAck(kDevice, kRequest);

  ASSERT_TRUE(waiter.completed());
  EXPECT_EQ(waiter.outcome()->status(), REQUEST_STATUS_ACKED);
}

TEST(RequestCorrelator, AckDoesNotCompleteResultWaiter) {
  FakeClock clock;
  Recorder waiter;
  RequestCorrelator correlator(clock, {});

  const auto registration =
      correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), waiter.Callback());
  correlator.MarkSent(kRequest, registration.waiter, kConnection);
  correlator.OnAck(kDevice, kRequest);

  EXPECT_FALSE(waiter.completed());
  EXPECT_EQ(correlator.pending(), 1u);
}

TEST(RequestCorrelator, ResultCompletesResultWaiterWithLatencies) {
  FakeClock clock;
  Recorder waiter;
  RequestCorrelator correlator(clock, {});

  const auto registration =
      correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), waiter.Callback());
  correlator.MarkSent(kRequest, registration.waiter, kConnection);
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

  const auto registration =
      correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), waiter.Callback());
  correlator.MarkSent(kRequest, registration.waiter, kConnection);
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

  const auto registration =
      correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), ack_waiter.Callback());
  correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), result_waiter.Callback());
  correlator.MarkSent(kRequest, registration.waiter, kConnection);
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

  const auto registration =
      correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_NONE, Later(clock), waiter.Callback());
  const absl::Time acked_at = clock.Now();
  correlator.OnAck(kDevice, kRequest);
  clock.Advance(absl::Milliseconds(5));
  correlator.MarkSent(kRequest, registration.waiter, kConnection);

  ASSERT_EQ(waiter.calls(), 1);
  EXPECT_EQ(waiter.outcome()->status(), REQUEST_STATUS_ACKED);
  EXPECT_EQ(FromProto(waiter.outcome()->sent_at()), acked_at);
  EXPECT_EQ(FromProto(waiter.outcome()->ack_latency()), absl::ZeroDuration());
}

TEST(RequestCorrelator, RepeatedResponsesKeepTheFirst) {
  FakeClock clock;
  Recorder waiter, retry;
  RequestCorrelator correlator(clock, {});

  const auto registration =
      correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), waiter.Callback());
  correlator.MarkSent(kRequest, registration.waiter, kConnection);
  clock.Advance(absl::Milliseconds(10));
  EXPECT_TRUE(correlator.OnAck(kDevice, kRequest));
  clock.Advance(absl::Milliseconds(10));
  EXPECT_TRUE(correlator.OnAck(kDevice, kRequest));
  EXPECT_TRUE(correlator.OnResult(kDevice, kRequest, Succeeded("1.0.0")));
  EXPECT_TRUE(correlator.OnResult(kDevice, kRequest, Failed("late duplicate")));
  correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), retry.Callback());

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
      correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, clock.Now() + absl::Seconds(1), hasty.Callback());
  correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, clock.Now() + absl::Seconds(30), patient.Callback());
  correlator.MarkSent(kRequest, registration.waiter, kConnection);
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

  const auto registration =
      correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), for_ack.Callback());
  correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), for_result.Callback());
  correlator.MarkSent(kRequest, registration.waiter, kConnection);
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

  const auto registration = correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), first.Callback());
  correlator.MarkSent(kRequest, registration.waiter, kConnection);
  clock.Advance(absl::Seconds(10));
  correlator.ExpireDue();
  ASSERT_EQ(first.code(), absl::StatusCode::kDeadlineExceeded);
  clock.Advance(absl::Seconds(5));
  EXPECT_TRUE(correlator.OnAck(kDevice, kRequest)) << "a timed-out request is still known";

  const auto again = correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), retry.Callback());

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

  const auto registration = correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), first.Callback());
  correlator.MarkSent(kRequest, registration.waiter, kConnection);
  correlator.OnAck(kDevice, kRequest);
  clock.Advance(absl::Minutes(1));
  const auto again = correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), retry.Callback());

  EXPECT_EQ(again.role, Role::kJoined);
  ASSERT_TRUE(retry.completed());
  EXPECT_EQ(retry.outcome()->status(), REQUEST_STATUS_ACKED);
  EXPECT_EQ(retry.outcome()->sent_at(), first.outcome()->sent_at());
}

TEST(RequestCorrelator, RetryOfAckedRequestWaitsForResult) {
  FakeClock clock;
  Recorder first, retry;
  RequestCorrelator correlator(clock, {});

  const auto registration = correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), first.Callback());
  correlator.MarkSent(kRequest, registration.waiter, kConnection);
  correlator.OnAck(kDevice, kRequest);
  correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), retry.Callback());
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
      correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, clock.Now() + absl::Minutes(10), first.Callback());
  correlator.MarkSent(kRequest, registration.waiter, kConnection);
  clock.Advance(absl::Minutes(10));
  correlator.ExpireDue();
  ASSERT_EQ(first.code(), absl::StatusCode::kDeadlineExceeded);
  clock.Advance(absl::Minutes(4));
  correlator.ExpireDue();

  EXPECT_EQ(correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), retry.Callback()).role,
            Role::kJoined)
      << "the window counts from when the last waiter left, not from the send";
}

TEST(RequestCorrelator, DedupeWindowExpiryForgetsTheRequest) {
  FakeClock clock;
  Recorder first, retry;
  RequestCorrelator correlator(clock, {absl::Minutes(5)});

  const auto registration = correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), first.Callback());
  correlator.MarkSent(kRequest, registration.waiter, kConnection);
  correlator.OnAck(kDevice, kRequest);
  clock.Advance(absl::Minutes(5) - absl::Seconds(1));
  correlator.ExpireDue();
  EXPECT_TRUE(correlator.OnAck(kDevice, kRequest)) << "still remembered inside the window";
  clock.Advance(absl::Seconds(1));
  correlator.ExpireDue();

  EXPECT_FALSE(correlator.OnAck(kDevice, kRequest));
  EXPECT_EQ(correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), retry.Callback()).role,
            Role::kSendNow);
  EXPECT_FALSE(retry.completed());
}

TEST(RequestCorrelator, FailForgetsSoRetrySendsAgain) {
  FakeClock clock;
  Recorder first, joined, retry;
  RequestCorrelator correlator(clock, {});

  const auto registration = correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), first.Callback());
  correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), joined.Callback());
  correlator.Fail(kRequest, registration.waiter, absl::ResourceExhaustedError("device send queue full"));

  ASSERT_TRUE(first.completed());
  ASSERT_TRUE(joined.completed());
  EXPECT_EQ(first.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(joined.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), retry.Callback()).role,
            Role::kSendNow);
}

TEST(RequestCorrelator, StaleSenderCannotTouchRetry) {
  FakeClock clock;
  Recorder first, retry;
  RequestCorrelator correlator(clock, {});

  const auto stale = correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), first.Callback());
  correlator.Fail(kRequest, stale.waiter, absl::UnavailableError("device disconnected before the request was written"));
  const auto fresh = correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_NONE, Later(clock), retry.Callback());
  ASSERT_EQ(fresh.role, Role::kSendNow);
  correlator.MarkSent(kRequest, stale.waiter, kConnection);
  correlator.Fail(kRequest, stale.waiter, absl::NotFoundError("device not connected"));

  EXPECT_FALSE(retry.completed()) << "only the retry's own sender speaks for its send";
  correlator.MarkSent(kRequest, fresh.waiter, kConnection);
  ASSERT_TRUE(retry.completed());
  EXPECT_EQ(retry.outcome()->status(), REQUEST_STATUS_SENT);
}

TEST(RequestCorrelator, ACloseAbortsOnlyWhatThatConnectionWroteAndKeepsIt) {
  FakeClock clock;
  Recorder mine, on_next, theirs;
  RequestCorrelator correlator(clock, {});

  const auto a = correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), mine.Callback());
  const auto b = correlator.Await(kOtherRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), on_next.Callback());
  const auto c = correlator.Await("e5f60718-293a-44b5-86c7-e8f90a1b2c3d", kOtherDevice, kDigest, WAIT_MODE_ACK,
                                  Later(clock), theirs.Callback());
  correlator.MarkSent(kRequest, a.waiter, kConnection);
  correlator.MarkSent(kOtherRequest, b.waiter, kNextConnection);
  correlator.MarkSent("e5f60718-293a-44b5-86c7-e8f90a1b2c3d", c.waiter, kConnection);
  correlator.FailAllFor(kDevice, kConnection, "close code 1006");

  ASSERT_TRUE(mine.completed());
  EXPECT_EQ(mine.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(mine.outcome().status().message(),
            absl::StrCat("request ", kRequest,
                         " was written to the device's connection, which closed (close code 1006) before the device "
                         "acknowledged it; the device may have received it, so the bridge will not send it again "
                         "under this request_id"));
  EXPECT_FALSE(on_next.completed()) << "written on the connection that replaced the closed one";
  EXPECT_FALSE(theirs.completed()) << "another device's request";
  EXPECT_TRUE(correlator.OnAck(kDevice, kRequest)) << "a request whose outcome is unknown is kept";
  EXPECT_EQ(correlator.pending(), 2u);
}

TEST(RequestCorrelator, ARetryOfAWrittenRequestWhoseConnectionClosedIsAbortedNotSentAgain) {
  FakeClock clock;
  Recorder first, retry, retry_none, after_ack;
  RequestCorrelator correlator(clock, {});

  const auto sent = correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), first.Callback());
  correlator.MarkSent(kRequest, sent.waiter, kConnection);
  correlator.FailAllFor(kDevice, kConnection, "close code 4409");

  const auto again = correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), retry.Callback());
  EXPECT_EQ(again.role, Role::kJoined) << "the device may have it: never send it twice";
  ASSERT_TRUE(retry.completed());
  EXPECT_EQ(retry.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(std::string(retry.outcome().status().message()),
              ::testing::HasSubstr("closed (close code 4409) before the device acknowledged it"));
  // It was written, which is all WAIT_MODE_NONE asks.
  correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_NONE, Later(clock), retry_none.Callback());
  ASSERT_TRUE(retry_none.outcome().ok()) << retry_none.outcome().status();
  EXPECT_EQ(retry_none.outcome()->status(), REQUEST_STATUS_SENT);
  EXPECT_EQ(correlator.pending(), 0u);

  // The device answers after all (on its new connection): retries get it.
  ASSERT_TRUE(correlator.OnAck(kDevice, kRequest));
  correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), after_ack.Callback());
  ASSERT_TRUE(after_ack.outcome().ok()) << after_ack.outcome().status();
  EXPECT_EQ(after_ack.outcome()->status(), REQUEST_STATUS_ACKED);
}

TEST(RequestCorrelator, ACloseAbortsResultWaitersOfAnAckedRequestButKeepsTheAck) {
  FakeClock clock;
  Recorder for_result, retry, retry_result, answered;
  RequestCorrelator correlator(clock, {});

  const auto registration =
      correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), for_result.Callback());
  correlator.MarkSent(kRequest, registration.waiter, kConnection);
  correlator.OnAck(kDevice, kRequest);
  correlator.FailAllFor(kDevice, kConnection, "close code 1001");

  ASSERT_TRUE(for_result.completed());
  EXPECT_EQ(for_result.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(std::string(for_result.outcome().status().message()),
              ::testing::HasSubstr("acknowledged by the device, but its connection closed (close code 1001)"));
  const auto again = correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), retry.Callback());
  EXPECT_EQ(again.role, Role::kJoined) << "the device has the request: never send it twice";
  ASSERT_TRUE(retry.completed());
  EXPECT_EQ(retry.outcome()->status(), REQUEST_STATUS_ACKED);
  correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), retry_result.Callback());
  EXPECT_EQ(retry_result.code(), absl::StatusCode::kAborted);

  ASSERT_TRUE(correlator.OnResult(kDevice, kRequest, Succeeded("2.0.0")));
  correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), answered.Callback());
  ASSERT_TRUE(answered.outcome().ok());
  EXPECT_EQ(answered.outcome()->status(), REQUEST_STATUS_SUCCEEDED);
}

TEST(RequestCorrelator, ACloseLeavesAnsweredAndUnwrittenRequestsAlone) {
  FakeClock clock;
  Recorder answered, queued;
  RequestCorrelator correlator(clock, {});

  const auto a = correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), answered.Callback());
  correlator.MarkSent(kRequest, a.waiter, kConnection);
  correlator.OnResult(kDevice, kRequest, Succeeded("1.0.0"));
  const auto q = correlator.Await(kOtherRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), queued.Callback());
  correlator.FailAllFor(kDevice, kConnection, "close code 1006");

  EXPECT_EQ(answered.outcome()->status(), REQUEST_STATUS_SUCCEEDED);
  EXPECT_FALSE(queued.completed()) << "not written on the closed connection: its own link settles it";
  correlator.MarkSent(kOtherRequest, q.waiter, kNextConnection);
  EXPECT_TRUE(correlator.OnAck(kDevice, kOtherRequest));
  EXPECT_EQ(queued.outcome()->status(), REQUEST_STATUS_ACKED);
}

TEST(RequestCorrelator, SameRequestIdForADifferentRequestIsInvalidArgument) {
  FakeClock clock;
  Recorder first, changed, same;
  RequestCorrelator correlator(clock, {});

  const auto sent = correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), first.Callback());
  correlator.MarkSent(kRequest, sent.waiter, kConnection);
  const auto registration =
      correlator.Await(kRequest, kDevice, kOtherDigest, WAIT_MODE_ACK, Later(clock), changed.Callback());

  EXPECT_EQ(registration.role, Role::kJoined);
  ASSERT_TRUE(changed.completed());
  EXPECT_EQ(changed.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(changed.outcome().status().message(),
            absl::StrCat("request_id ", kRequest,
                         " already used for a different request (another command or state); a retry must repeat "
                         "the request exactly, a new request needs a new request_id"));
  // Another wait mode is the same request.
  EXPECT_EQ(correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_NONE, Later(clock), same.Callback()).role,
            Role::kJoined);
  EXPECT_EQ(same.outcome()->status(), REQUEST_STATUS_SENT);
  EXPECT_FALSE(first.completed());
}

TEST(RequestCorrelator, FailAllFailsEveryWaiterAndForgets) {
  FakeClock clock;
  Recorder a, b;
  RequestCorrelator correlator(clock, {});

  correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), a.Callback());
  correlator.Await(kOtherRequest, kOtherDevice, kDigest, WAIT_MODE_RESULT, Later(clock), b.Callback());
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

  correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), first.Callback());
  const auto registration =
      correlator.Await(kRequest, kOtherDevice, kDigest, WAIT_MODE_ACK, Later(clock), intruder.Callback());

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

  const auto registration =
      correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), waiter.Callback());
  correlator.MarkSent(kRequest, registration.waiter, kConnection);

  EXPECT_FALSE(correlator.OnAck(kOtherDevice, kRequest));
  EXPECT_FALSE(correlator.OnResult(kOtherDevice, kRequest, Succeeded("6.6.6")));
  EXPECT_FALSE(waiter.completed());
}

TEST(RequestCorrelator, CancelCompletesOnlyThatWaiter) {
  FakeClock clock;
  Recorder leaving, staying;
  RequestCorrelator correlator(clock, {});

  const auto registration =
      correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), leaving.Callback());
  correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), staying.Callback());
  correlator.MarkSent(kRequest, registration.waiter, kConnection);
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
    const auto sent = correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_NONE, Later(clock), waiters[0].Callback());
    correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), waiters[1].Callback());
    correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), waiters[2].Callback());
    const auto cancelled =
        correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), waiters[3].Callback());
    correlator.Await(kRequest, kOtherDevice, kDigest, WAIT_MODE_ACK, Later(clock), waiters[4].Callback());
    correlator.Await(kOtherRequest, kOtherDevice, kDigest, WAIT_MODE_RESULT, Later(clock), waiters[5].Callback());
    correlator.Await(kOtherRequest, kOtherDevice, kDigest, WAIT_MODE_RESULT, absl::InfiniteFuture(),
                     waiters[6].Callback());

    correlator.MarkSent(kRequest, sent.waiter, kConnection);
    correlator.MarkSent(kRequest, sent.waiter, kConnection);
    correlator.Cancel(kRequest, cancelled.waiter);
    correlator.OnAck(kDevice, kRequest);
    correlator.OnAck(kDevice, kRequest);
    correlator.OnResult(kDevice, kRequest, Succeeded("1.0.0"));
    correlator.Cancel(kRequest, cancelled.waiter);
    correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), waiters[7].Callback());
    correlator.FailAllFor(kDevice, kConnection, "close code 1006");
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

  const auto registration = correlator.Await(
      kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), [&](const absl::StatusOr<SendDeviceRequestResponse>&) {
        // Joins the finished request (completes at once) and starts another.
        correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), nested.Callback());
        const auto other = correlator.Await(kOtherRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock),
                                            [](const absl::StatusOr<SendDeviceRequestResponse>&) {});
        nested_role = other.role;
        correlator.Fail(kOtherRequest, other.waiter, absl::UnavailableError("device disconnected"));
      });
  correlator.MarkSent(kRequest, registration.waiter, kConnection);
  correlator.OnAck(kDevice, kRequest);

  EXPECT_EQ(nested.calls(), 1);
  EXPECT_EQ(nested_role, Role::kSendNow);
  EXPECT_EQ(correlator.pending(), 0u);
}

TEST(RequestCorrelator, PendingCountsRequestsWithWaiters) {
  FakeClock clock;
  Recorder a, b, c;
  RequestCorrelator correlator(clock, {});

  const auto first = correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), a.Callback());
  correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), b.Callback());
  correlator.Await(kOtherRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), c.Callback());
  EXPECT_EQ(correlator.pending(), 2u);
  correlator.MarkSent(kRequest, first.waiter, kConnection);
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
      const auto registration = correlator.Await(request_id, device_id, kDigest, mode, absl::InfiniteFuture(),
                                                 [&, i](const absl::StatusOr<SendDeviceRequestResponse>& outcome) {
                                                   if (!outcome.ok()) errors.fetch_add(1);
                                                   completions[i].fetch_add(1);
                                                 });
      if (registration.role == Role::kSendNow) {
        sends.fetch_add(1);
        correlator.MarkSent(request_id, registration.waiter, kConnection);
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
  callers.reserve(kThreads);
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
  EXPECT_EQ(correlator.Await(RequestId(1), kDevice, kDigest, WAIT_MODE_ACK, Later(clock), first.Callback()).role,
            Role::kSendNow);
  EXPECT_EQ(correlator.Await(RequestId(2), kDevice, kDigest, WAIT_MODE_ACK, Later(clock), second.Callback()).role,
            Role::kSendNow);

  EXPECT_EQ(correlator.Await(RequestId(3), kDevice, kDigest, WAIT_MODE_ACK, Later(clock), third.Callback()).role,
            Role::kJoined);
  EXPECT_EQ(third.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(third.outcome().status().message(),
            absl::StrCat("device ", kDevice,
                         " already has 2 requests in flight (--max-requests-per-device); retry once one completes"));
  EXPECT_EQ(counters.value(Limit::kMaxRequestsPerDevice), 1u);
  // Another device has room of its own.
  EXPECT_EQ(correlator.Await(RequestId(4), kOtherDevice, kDigest, WAIT_MODE_ACK, Later(clock), other.Callback()).role,
            Role::kSendNow);
  EXPECT_FALSE(other.completed());
  EXPECT_EQ(correlator.pending(), 3u);
}

TEST(RequestCorrelator, ARefusedRequestIsNotRememberedSoItsRetrySendsOnceThereIsRoom) {
  FakeClock clock;
  Recorder first, refused, retry;
  RequestCorrelator correlator(clock, Limited(1, 0));
  auto sent = correlator.Await(RequestId(1), kDevice, kDigest, WAIT_MODE_ACK, Later(clock), first.Callback());
  correlator.MarkSent(RequestId(1), sent.waiter, kConnection);
  correlator.Await(RequestId(2), kDevice, kDigest, WAIT_MODE_ACK, Later(clock), refused.Callback());
  ASSERT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);

  ASSERT_TRUE(correlator.OnAck(kDevice, RequestId(1)));  // the first completes: room again

  EXPECT_EQ(correlator.Await(RequestId(2), kDevice, kDigest, WAIT_MODE_ACK, Later(clock), retry.Callback()).role,
            Role::kSendNow);
  EXPECT_FALSE(retry.completed());
}

TEST(RequestCorrelator, EveryWayARequestEndsGivesBackItsPlace) {
  FakeClock clock;
  Recorder acked, answered, timed_out, cancelled, failed, none, disconnected, last;
  RequestCorrelator correlator(clock, Limited(1, 0));
  const auto fill = [&](int i, WaitMode mode, Recorder& recorder) {
    auto registration = correlator.Await(RequestId(i), kDevice, kDigest, mode, Later(clock), recorder.Callback());
    EXPECT_EQ(registration.role, Role::kSendNow) << "request " << i;
    return registration;
  };
  auto r1 = fill(1, WAIT_MODE_ACK, acked);
  correlator.MarkSent(RequestId(1), r1.waiter, kConnection);
  correlator.OnAck(kDevice, RequestId(1));
  auto r2 = fill(2, WAIT_MODE_RESULT, answered);
  correlator.MarkSent(RequestId(2), r2.waiter, kConnection);
  correlator.OnResult(kDevice, RequestId(2), Succeeded("2"));
  fill(3, WAIT_MODE_ACK, timed_out);
  clock.Advance(absl::Seconds(11));
  correlator.ExpireDue();
  auto r4 = fill(4, WAIT_MODE_ACK, cancelled);
  correlator.Cancel(RequestId(4), r4.waiter);
  auto r5 = fill(5, WAIT_MODE_ACK, failed);
  correlator.Fail(RequestId(5), r5.waiter, absl::ResourceExhaustedError("device send queue full"));
  auto r6 = fill(6, WAIT_MODE_NONE, none);
  correlator.MarkSent(RequestId(6), r6.waiter, kConnection);
  auto r7 = fill(7, WAIT_MODE_ACK, disconnected);
  correlator.MarkSent(RequestId(7), r7.waiter, kConnection);
  correlator.FailAllFor(kDevice, kConnection, "close code 1006");

  fill(8, WAIT_MODE_ACK, last);
  EXPECT_FALSE(last.completed());
  EXPECT_EQ(correlator.pending(), 1u);
}

TEST(RequestCorrelator, RetriesJoiningAPendingOrAnsweredRequestTakeNoFurtherPlace) {
  FakeClock clock;
  Recorder first, joined, answered_retry, holder;
  RequestCorrelator correlator(clock, Limited(1, 0));
  auto sent = correlator.Await(RequestId(1), kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), first.Callback());
  correlator.MarkSent(RequestId(1), sent.waiter, kConnection);
  // A retry of the pending request joins it though the device is full.
  EXPECT_EQ(correlator.Await(RequestId(1), kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), joined.Callback()).role,
            Role::kJoined);
  EXPECT_FALSE(joined.completed());
  correlator.OnResult(kDevice, RequestId(1), Succeeded("1"));
  ASSERT_TRUE(joined.outcome().ok());

  ASSERT_EQ(correlator.Await(RequestId(2), kDevice, kDigest, WAIT_MODE_ACK, Later(clock), holder.Callback()).role,
            Role::kSendNow);
  // The device is full again, yet a retry of the answered request gets its
  // stored outcome rather than a refusal.
  correlator.Await(RequestId(1), kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), answered_retry.Callback());
  ASSERT_TRUE(answered_retry.outcome().ok()) << answered_retry.outcome().status();
  EXPECT_EQ(answered_retry.outcome()->status(), REQUEST_STATUS_SUCCEEDED);
}

TEST(RequestCorrelator, RequestOverThePendingLimitIsResourceExhaustedForAnyDevice) {
  FakeClock clock;
  LimitCounters counters;
  Recorder a, b, refused, later;
  RequestCorrelator correlator(clock, Limited(0, 2, &counters));
  const auto first = correlator.Await(RequestId(1), kDevice, kDigest, WAIT_MODE_ACK, Later(clock), a.Callback());
  correlator.Await(RequestId(2), kOtherDevice, kDigest, WAIT_MODE_ACK, Later(clock), b.Callback());

  EXPECT_EQ(correlator.Await(RequestId(3), kOtherDevice, kDigest, WAIT_MODE_ACK, Later(clock), refused.Callback()).role,
            Role::kJoined);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.outcome().status().message(),
            "the bridge already has 2 requests pending (--max-pending-requests); retry later");
  EXPECT_EQ(counters.value(Limit::kMaxPendingRequests), 1u);

  correlator.MarkSent(RequestId(1), first.waiter, kConnection);
  correlator.FailAllFor(kDevice, kConnection, "close code 1006");
  EXPECT_EQ(correlator.Await(RequestId(3), kOtherDevice, kDigest, WAIT_MODE_ACK, Later(clock), later.Callback()).role,
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
      auto registration =
          correlator.Await(request_id, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), recorder.Callback());
      if (registration.role != Role::kSendNow) {
        ASSERT_EQ(recorder.code(), absl::StatusCode::kResourceExhausted);
        refused.fetch_add(1);
        continue;
      }
      const int now_in_flight = in_flight.fetch_add(1) + 1;
      int seen = most.load();
      while (now_in_flight > seen && !most.compare_exchange_weak(seen, now_in_flight)) {
      }
      correlator.MarkSent(request_id, registration.waiter, kConnection);
      in_flight.fetch_sub(1);  // before the ack gives the place back
      correlator.OnAck(kDevice, request_id);
      ASSERT_TRUE(recorder.completed());
    }
  };
  std::vector<std::thread> callers;
  callers.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) callers.emplace_back(caller, t);
  for (std::thread& t : callers) t.join();

  EXPECT_LE(most.load(), static_cast<int>(kLimit));
  EXPECT_EQ(correlator.pending(), 0u);
  // Every place came back.
  for (size_t i = 0; i < kLimit; ++i) {
    EXPECT_EQ(correlator
                  .Await(RequestId(100000 + static_cast<int>(i)), kDevice, kDigest, WAIT_MODE_ACK, Later(clock),
                         after[i].Callback())
                  .role,
              Role::kSendNow);
  }
}

RequestCorrelator::Options Remembering(size_t entries, size_t bytes) {
  RequestCorrelator::Options options;
  options.max_remembered = entries;
  options.max_remembered_bytes = bytes;
  options.shards = 1;  // one shard: the budget's order is exact
  return options;
}

// Sends request `i` and lets the device answer it, leaving it remembered and
// idle.
void Answered(RequestCorrelator& correlator, int i, Recorder& recorder, const FakeClock& clock) {
  const auto sent =
      correlator.Await(RequestId(i), kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), recorder.Callback());
  correlator.MarkSent(RequestId(i), sent.waiter, kConnection);
  correlator.OnResult(kDevice, RequestId(i), Succeeded(absl::StrCat(i)));
}

TEST(RequestCorrelator, OverTheCountBudgetTheLeastRecentlyTouchedIdleRequestIsForgottenFirst) {
  FakeClock clock;
  std::vector<Recorder> waiters(6);
  RequestCorrelator correlator(clock, Remembering(3, 0));

  for (int i = 1; i <= 3; ++i) {
    Answered(correlator, i, waiters[i], clock);
    clock.Advance(absl::Seconds(1));
  }
  // A retry touches request 1: 2 is now the least recently touched.
  correlator.Await(RequestId(1), kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), waiters[0].Callback());
  ASSERT_TRUE(waiters[0].outcome().ok());
  Answered(correlator, 4, waiters[4], clock);

  EXPECT_EQ(correlator.remembered().entries, 3u);
  EXPECT_EQ(correlator.remembered().forgotten_budget, 1u);
  EXPECT_FALSE(correlator.OnAck(kDevice, RequestId(2))) << "the least recently touched is forgotten";
  for (int kept : {1, 3, 4}) EXPECT_TRUE(correlator.OnAck(kDevice, RequestId(kept))) << kept;
}

TEST(RequestCorrelator, RequestsWithWaitersAreNeverForgottenForTheBudget) {
  FakeClock clock;
  Recorder idle, a, b;
  RequestCorrelator correlator(clock, Remembering(1, 0));

  Answered(correlator, 1, idle, clock);
  correlator.Await(RequestId(2), kDevice, kDigest, WAIT_MODE_ACK, Later(clock), a.Callback());
  correlator.Await(RequestId(3), kDevice, kDigest, WAIT_MODE_ACK, Later(clock), b.Callback());

  EXPECT_FALSE(a.completed());
  EXPECT_FALSE(b.completed());
  EXPECT_EQ(correlator.remembered().entries, 2u) << "over the budget only while callers wait";
  EXPECT_EQ(correlator.remembered().forgotten_budget, 1u);
  EXPECT_EQ(correlator.pending(), 2u);
}

TEST(RequestCorrelator, OverTheByteBudgetTheOldestIdleRequestIsForgotten) {
  FakeClock clock;
  std::vector<Recorder> waiters(4);
  // Room for two entries like these and one being asked for, not three and
  // one: their sizes, remembered and while waited for, read from a
  // correlator of its own.
  size_t one = 0;
  size_t waited_for = 0;
  {
    Recorder probe;
    RequestCorrelator sizer(clock, Remembering(0, 0));
    const auto sent = sizer.Await(RequestId(1), kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), probe.Callback());
    waited_for = sizer.remembered().bytes;
    sizer.MarkSent(RequestId(1), sent.waiter, kConnection);
    sizer.OnResult(kDevice, RequestId(1), Succeeded("1"));
    one = sizer.remembered().bytes;
  }
  const size_t budget = waited_for + one * 3 / 2;
  RequestCorrelator correlator(clock, Remembering(0, budget));

  Answered(correlator, 1, waiters[1], clock);
  clock.Advance(absl::Seconds(1));
  Answered(correlator, 2, waiters[2], clock);
  EXPECT_EQ(correlator.remembered().forgotten_budget, 0u);
  const size_t two = correlator.remembered().bytes;
  EXPECT_GT(two, 2 * RequestCorrelator::kFrozenOverheadBytes) << "ids and results count too";
  clock.Advance(absl::Seconds(1));
  Answered(correlator, 3, waiters[3], clock);

  EXPECT_EQ(correlator.remembered().forgotten_budget, 1u);
  EXPECT_EQ(correlator.remembered().entries, 2u);
  EXPECT_LE(correlator.remembered().bytes, budget);
  EXPECT_FALSE(correlator.OnAck(kDevice, RequestId(1)));
  EXPECT_TRUE(correlator.OnAck(kDevice, RequestId(2)));
}

TEST(RequestCorrelator, ARememberedResultIsChargedAsItIsHeld) {
  FakeClock clock;
  Recorder plain, large;
  RequestCorrelator::DeviceResult result = Succeeded("1.0.0");
  for (int i = 0; i < 50; ++i) (*result.result.mutable_fields())[absl::StrCat("k", i)].set_number_value(i);
  const size_t serialized = result.result.ByteSizeLong();

  RequestCorrelator without(clock, Remembering(0, 0));
  const auto a = without.Await(kRequest, kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), plain.Callback());
  without.MarkSent(kRequest, a.waiter, kConnection);
  ASSERT_TRUE(without.OnResult(kDevice, kRequest, Failed("")));
  RequestCorrelator with(clock, Remembering(0, 0));
  const auto b = with.Await(kRequest, kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), large.Callback());
  with.MarkSent(kRequest, b.waiter, kConnection);
  ASSERT_TRUE(with.OnResult(kDevice, kRequest, std::move(result)));

  // Remembered, the result is held serialized inside the frozen request.
  EXPECT_GE(with.remembered().bytes - without.remembered().bytes, serialized);
  EXPECT_LT(with.remembered().bytes - without.remembered().bytes, serialized + 64);
}

TEST(RequestCorrelator, TheWindowForgetsIdleRequestsAndCountsThem) {
  FakeClock clock;
  std::vector<Recorder> waiters(3);
  RequestCorrelator correlator(clock, {absl::Minutes(5)});

  Answered(correlator, 1, waiters[1], clock);
  clock.Advance(absl::Minutes(3));
  Answered(correlator, 2, waiters[2], clock);
  clock.Advance(absl::Minutes(2));
  correlator.ExpireDue();

  EXPECT_EQ(correlator.remembered().forgotten_window, 1u);
  EXPECT_EQ(correlator.remembered().entries, 1u);
  EXPECT_FALSE(correlator.OnAck(kDevice, RequestId(1)));
  EXPECT_TRUE(correlator.OnAck(kDevice, RequestId(2)));
  clock.Advance(absl::Minutes(3));
  correlator.ExpireDue();
  EXPECT_EQ(correlator.remembered().entries, 0u);
  EXPECT_EQ(correlator.remembered().bytes, 0u);
}

TEST(RequestCorrelator, ARequestIdTheBridgeMadeUpIsForgottenOnceAnsweredAndUnwaited) {
  FakeClock clock;
  Recorder acked, none;
  RequestCorrelator correlator(clock, {});
  using Source = RequestCorrelator::IdSource;

  const auto a =
      correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), acked.Callback(), Source::kBridge);
  correlator.MarkSent(kRequest, a.waiter, kConnection);
  ASSERT_TRUE(correlator.OnAck(kDevice, kRequest));
  ASSERT_EQ(acked.outcome()->status(), REQUEST_STATUS_ACKED);
  EXPECT_EQ(correlator.remembered().entries, 1u) << "kept for the result still to come";
  EXPECT_TRUE(correlator.OnResult(kDevice, kRequest, Succeeded("1.0.0"))) << "a late result is no bad frame";
  EXPECT_EQ(correlator.remembered().entries, 0u);
  EXPECT_EQ(correlator.remembered().bytes, 0u);

  const auto b =
      correlator.Await(kOtherRequest, kDevice, kDigest, WAIT_MODE_NONE, Later(clock), none.Callback(), Source::kBridge);
  correlator.MarkSent(kOtherRequest, b.waiter, kConnection);
  correlator.OnResult(kDevice, kOtherRequest, Failed("no disk"));
  EXPECT_EQ(correlator.remembered().entries, 0u);
  EXPECT_EQ(correlator.remembered().forgotten_budget + correlator.remembered().forgotten_window, 0u);
}

TEST(RequestCorrelator, DeadlinesFireInTheirOrderAndOnlyWhenDue) {
  FakeClock clock;
  std::vector<Recorder> waiters(4);
  RequestCorrelator correlator(clock, Remembering(0, 0));  // one shard: one order
  std::vector<int> order;
  for (int i : {3, 1, 2}) {
    correlator.Await(RequestId(i), kDevice, kDigest, WAIT_MODE_ACK, clock.Now() + absl::Seconds(i),
                     [&order, i](const absl::StatusOr<SendDeviceRequestResponse>& outcome) {
                       EXPECT_EQ(outcome.status().code(), absl::StatusCode::kDeadlineExceeded);
                       order.push_back(i);
                     });
  }
  const auto cancelled = correlator.Await(RequestId(0), kDevice, kDigest, WAIT_MODE_ACK, clock.Now() + absl::Seconds(1),
                                          waiters[0].Callback());
  correlator.Cancel(RequestId(0), cancelled.waiter);

  correlator.ExpireDue();
  EXPECT_TRUE(order.empty());
  clock.Advance(absl::Seconds(2));
  correlator.ExpireDue();
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(correlator.pending(), 1u);
  clock.Advance(absl::Seconds(1));
  correlator.ExpireDue();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(waiters[0].calls(), 1) << "a cancelled waiter's deadline no longer fires";
  EXPECT_EQ(correlator.pending(), 0u);
}

// A request nobody waits for is frozen; a close of its connection is applied
// when it is next looked at. These drive that path: an ack-mode caller is
// gone by the time the connection closes, as in every round trip.
void AckedAndLeft(RequestCorrelator& correlator, const std::string& request_id, Recorder& caller,
                  const FakeClock& clock, RequestCorrelator::ConnectionId connection = kConnection) {
  const auto sent = correlator.Await(request_id, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), caller.Callback());
  correlator.MarkSent(request_id, sent.waiter, connection);
  ASSERT_TRUE(correlator.OnAck(kDevice, request_id));
  ASSERT_TRUE(caller.outcome().ok());
}

TEST(RequestCorrelator, AnIdleRequestHearsOfItsConnectionsCloseWhenNextAsked) {
  FakeClock clock;
  Recorder caller, retry_result, retry_ack;
  RequestCorrelator correlator(clock, {});
  AckedAndLeft(correlator, kRequest, caller, clock);

  correlator.FailAllFor(kDevice, kConnection, "close code 1001");

  const std::optional<RequestCorrelator::Known> known = correlator.Find(kRequest);
  ASSERT_TRUE(known.has_value());
  EXPECT_TRUE(known->unconfirmed);
  EXPECT_EQ(known->closed_how, "close code 1001");
  EXPECT_EQ(known->outcome.status(), REQUEST_STATUS_ACKED);
  EXPECT_EQ(correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), retry_result.Callback()).role,
            Role::kJoined);
  EXPECT_EQ(retry_result.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(std::string(retry_result.outcome().status().message()),
              ::testing::HasSubstr("acknowledged by the device, but its connection closed (close code 1001)"));
  correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), retry_ack.Callback());
  ASSERT_TRUE(retry_ack.outcome().ok());
  EXPECT_EQ(retry_ack.outcome()->status(), REQUEST_STATUS_ACKED);
  // Applied, it stays applied.
  EXPECT_TRUE(correlator.Find(kRequest)->unconfirmed);
  EXPECT_EQ(correlator.pending(), 0u);
}

TEST(RequestCorrelator, AnIdleRequestAnsweredOnANewConnectionAfterTheCloseKeepsTheAnswer) {
  FakeClock clock;
  Recorder caller, retry;
  RequestCorrelator correlator(clock, {});
  AckedAndLeft(correlator, kRequest, caller, clock);
  correlator.FailAllFor(kDevice, kConnection, "close code 1006");

  ASSERT_TRUE(correlator.OnResult(kDevice, kRequest, Succeeded("3.1.0")));

  correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_RESULT, Later(clock), retry.Callback());
  ASSERT_TRUE(retry.outcome().ok()) << retry.outcome().status();
  EXPECT_EQ(retry.outcome()->status(), REQUEST_STATUS_SUCCEEDED);
  EXPECT_EQ(retry.outcome()->result().fields().at("version").string_value(), "3.1.0");
  EXPECT_EQ(retry.outcome()->result_exact_numbers().at("/serial"), "18446744073709551615");
}

TEST(RequestCorrelator, ACloseOnlyConcernsTheIdleRequestsOfThatConnection) {
  FakeClock clock;
  Recorder a, b, c;
  RequestCorrelator correlator(clock, {});
  AckedAndLeft(correlator, kRequest, a, clock, kConnection);
  AckedAndLeft(correlator, kOtherRequest, b, clock, kNextConnection);
  const std::string answered = "e5f60718-293a-44b5-86c7-e8f90a1b2c3d";
  AckedAndLeft(correlator, answered, c, clock, kConnection);
  ASSERT_TRUE(correlator.OnResult(kDevice, answered, Succeeded("1.0.0")));

  correlator.FailAllFor(kDevice, kConnection, "close code 1006");

  EXPECT_TRUE(correlator.Find(kRequest)->unconfirmed);
  EXPECT_FALSE(correlator.Find(kOtherRequest)->unconfirmed) << "written on another connection";
  EXPECT_FALSE(correlator.Find(answered)->unconfirmed) << "answered before the close: nothing lost";
}

TEST(RequestCorrelator, ACloseIsNewsForAnIdleRequestSoItIsRememberedAWindowAfterIt) {
  FakeClock clock;
  Recorder caller;
  RequestCorrelator::Options options;
  options.dedupe_window = absl::Minutes(5);
  RequestCorrelator correlator(clock, options);
  AckedAndLeft(correlator, kRequest, caller, clock);

  clock.Advance(absl::Minutes(4));
  correlator.FailAllFor(kDevice, kConnection, "close code 1006");
  clock.Advance(absl::Minutes(2));  // 6 minutes after its last touch, 2 after the close
  correlator.ExpireDue();
  ASSERT_TRUE(correlator.Find(kRequest).has_value()) << "the close was 2 minutes ago";
  EXPECT_TRUE(correlator.Find(kRequest)->unconfirmed);
  EXPECT_EQ(correlator.remembered().forgotten_window, 0u);

  clock.Advance(absl::Minutes(5));
  correlator.ExpireDue();
  EXPECT_FALSE(correlator.Find(kRequest).has_value());
  EXPECT_EQ(correlator.remembered().forgotten_window, 1u);
  EXPECT_EQ(correlator.remembered().entries, 0u);
  EXPECT_EQ(correlator.remembered().bytes, 0u) << "every byte charged is given back";
}

TEST(RequestCorrelator, AWatchedIdleRequestsObserverHearsOfTheCloseAtOnce) {
  FakeClock clock;
  Recorder caller;
  struct Seen : RequestCorrelator::OutcomeObserver {
    void OnOutcome(RequestCorrelator::OutcomeChange change) override { changes.push_back(std::move(change)); }
    std::vector<RequestCorrelator::OutcomeChange> changes;
  } seen;
  RequestCorrelator correlator(clock, {});
  correlator.Observe(&seen);
  const auto sent = correlator.Await(kRequest, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), caller.Callback(),
                                     RequestCorrelator::IdSource::kCaller,
                                     {"a1b2c3d4-0000-4000-8000-000000000001", RequestCorrelator::Watch::kEvents});
  correlator.MarkSent(kRequest, sent.waiter, kConnection);
  ASSERT_TRUE(correlator.OnAck(kDevice, kRequest));
  ASSERT_EQ(seen.changes.size(), 2u);  // sent, acked

  correlator.FailAllFor(kDevice, kConnection, "close code 1011");

  ASSERT_EQ(seen.changes.size(), 3u);
  EXPECT_TRUE(seen.changes[2].unconfirmed);
  EXPECT_EQ(seen.changes[2].closed_how, "close code 1011");
  EXPECT_EQ(seen.changes[2].account_id, "a1b2c3d4-0000-4000-8000-000000000001");
  EXPECT_EQ(seen.changes[2].outcome.status(), REQUEST_STATUS_ACKED);
}

// Lets `first` pass and expires (waiters due then touch their requests),
// then a `window` more: nothing is left, and every byte charged came back.
void ExpectEverythingForgotten(RequestCorrelator& correlator, FakeClock& clock, absl::Duration first,
                               absl::Duration window) {
  clock.Advance(first);
  correlator.ExpireDue();
  clock.Advance(window);
  correlator.ExpireDue();
  EXPECT_EQ(correlator.remembered().entries, 0u);
  EXPECT_EQ(correlator.remembered().bytes, 0u);
}

TEST(RequestCorrelator, EveryByteChargedIsGivenBackWhateverARequestWentThrough) {
  FakeClock clock;
  RequestCorrelator::Options options;
  options.dedupe_window = absl::Minutes(1);
  RequestCorrelator correlator(clock, options);
  std::vector<Recorder> callers(400);
  std::vector<Recorder> retries(400);
  // Every path: acked and left, answered, closed while idle, closed while
  // waited for, retried, cancelled, failed before writing, timed out.
  for (int i = 0; i < 400; ++i) {
    const std::string id = RequestId(i);
    const RequestCorrelator::ConnectionId connection = 100 + i % 7;
    const WaitMode mode = i % 3 == 0 ? WAIT_MODE_RESULT : WAIT_MODE_ACK;
    const auto sent =
        correlator.Await(id, kDevice, kDigest, mode, clock.Now() + absl::Seconds(i % 5 + 1), callers[i].Callback());
    if (i % 11 == 0) {
      correlator.Fail(id, sent.waiter, absl::UnavailableError("link full"));
      continue;
    }
    if (i % 13 == 0) correlator.Cancel(id, sent.waiter);
    correlator.MarkSent(id, sent.waiter, connection);
    if (i % 2 == 0) correlator.OnAck(kDevice, id);
    if (i % 4 == 0) correlator.OnResult(kDevice, id, Succeeded("1"));
    if (i % 17 == 0) correlator.Await(id, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), retries[i].Callback());
  }
  correlator.FailAllFor(kDevice, 103, "close code 1006");
  clock.Advance(absl::Seconds(3));
  correlator.ExpireDue();
  correlator.FailAllFor(kDevice, 105, "close code 1001");
  for (int i = 0; i < 400; i += 9) correlator.OnResult(kDevice, RequestId(i), Succeeded("late"));
  ASSERT_GT(correlator.remembered().entries, 0u);

  // The last waiters time out first, which touches their requests.
  ExpectEverythingForgotten(correlator, clock, absl::Minutes(3), absl::Minutes(1));
  EXPECT_EQ(correlator.pending(), 0u);
  for (const Recorder& caller : callers) EXPECT_EQ(caller.calls(), 1);
  for (int i = 17; i < 400; i += 17) EXPECT_EQ(retries[i].calls(), i % 11 == 0 ? 0 : 1) << i;
}

TEST(RequestCorrelator, AnIdOverTheLengthLimitIsRefusedNamingIt) {
  FakeClock clock;
  Recorder caller;
  RequestCorrelator correlator(clock, {});
  const std::string id(70'000, 'x');
  EXPECT_EQ(correlator.Await(id, kDevice, kDigest, WAIT_MODE_ACK, Later(clock), caller.Callback()).role, Role::kJoined);
  EXPECT_EQ(caller.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(caller.outcome().status().message(), "request_id is 70000 bytes; at most 65535");
  EXPECT_EQ(correlator.remembered().entries, 0u);
}

// The frozen path under races: requests are acked and left (frozen, in
// flight) while their connections close, retries thaw them, late results
// answer them, readers look and the timer forgets them. Each waiter completes
// once, no id is sent twice, and every byte charged comes back (what a close
// does to an idle request is checked one at a time above).
TEST(RequestCorrelator, ClosesRetriesAndAnswersRacingOverIdleRequestsKeepEveryPromise) {
  constexpr int kRequests = 1200;
  constexpr int kConnections = 12;
  FakeClock clock;
  RequestCorrelator::Options options;
  options.dedupe_window = absl::Minutes(1);
  RequestCorrelator correlator(clock, options);
  std::vector<std::atomic<int>> sends(kRequests);
  std::atomic<int> completions{0};
  std::atomic<int> waiters{0};
  std::atomic<bool> stop{false};
  const auto id_of = [](int i) { return RequestId(i); };
  const auto connection_of = [](int i) {
    return static_cast<RequestCorrelator::ConnectionId>(1000 + i % kConnections);
  };
  const auto count = [&completions](const absl::StatusOr<SendDeviceRequestResponse>&) { completions.fetch_add(1); };

  std::thread sender([&] {
    for (int i = 0; i < kRequests; ++i) {
      waiters.fetch_add(1);
      const auto r = correlator.Await(id_of(i), kDevice, kDigest, WAIT_MODE_ACK, absl::InfiniteFuture(), count);
      if (r.role != Role::kSendNow) continue;
      sends[i].fetch_add(1);
      correlator.MarkSent(id_of(i), r.waiter, connection_of(i));
      correlator.OnAck(kDevice, id_of(i));
    }
  });
  std::thread retrier([&] {
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < kRequests; ++i) {
        waiters.fetch_add(1);
        const WaitMode mode = i % 2 == 0 ? WAIT_MODE_RESULT : WAIT_MODE_ACK;
        const auto r = correlator.Await(id_of(i), kDevice, kDigest, mode, absl::InfiniteFuture(), count);
        if (r.role == Role::kSendNow) {
          sends[i].fetch_add(1);
          correlator.MarkSent(id_of(i), r.waiter, connection_of(i) + kConnections);
        }
      }
    }
  });
  std::thread device([&] {
    for (int c = 0; c < kConnections; ++c) {
      correlator.FailAllFor(kDevice, 1000 + c, "close code 1006");
      for (int i = c; i < kRequests; i += 3 * kConnections) correlator.OnResult(kDevice, id_of(i), Succeeded("1"));
    }
  });
  std::thread timer([&] {
    while (!stop.load()) {
      correlator.ExpireDue();
      for (int i = 0; i < kRequests; i += 97) correlator.Find(id_of(i));
    }
  });
  sender.join();
  retrier.join();
  device.join();
  // Whatever still waits for a result gets it (or, on a closed connection,
  // has been told ABORTED already).
  for (int i = 0; i < kRequests; ++i) correlator.OnResult(kDevice, id_of(i), Succeeded("2"));
  for (int c = 0; c < kConnections; ++c) correlator.FailAllFor(kDevice, 1000 + kConnections + c, "close code 1001");
  stop.store(true);
  timer.join();

  for (int i = 0; i < kRequests; ++i) ASSERT_LE(sends[i].load(), 1) << "request " << i << " was sent twice";
  EXPECT_EQ(completions.load(), waiters.load()) << "every waiter completes exactly once";
  EXPECT_EQ(correlator.pending(), 0u);
  ExpectEverythingForgotten(correlator, clock, absl::Minutes(1), absl::Minutes(1));
}

}  // namespace
}  // namespace hive

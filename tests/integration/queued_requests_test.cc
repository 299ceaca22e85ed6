// Queued requests end to end (issue #16; SendDeviceRequestRequest.queue_ttl,
// GetRequest, CancelRequest, request-outcome events; docs/protocol.md
// "Delivery guarantee"): a real bridge with --state-dir in a temporary
// directory, real devices that count the frames they receive per request id.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge/uuid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_metrics.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/state_dir.h"
#include "tests/integration/support/wait_until.h"

namespace hive::integration {
namespace {

using hive::bridge::v1::RequestStatus;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

constexpr absl::Duration kEventTimeout = absl::Seconds(10);

SendDeviceRequestRequest Queued(const std::string& device_id, absl::Duration ttl = absl::Hours(1)) {
  SendDeviceRequestRequest request = RequestTo(device_id);
  request.set_request_id(NewUuid());
  request.mutable_queue_ttl()->set_seconds(absl::ToInt64Seconds(ttl));
  return request;
}

class QueuedRequestsTest : public BridgeTest {
 protected:
  // Queues `request` and expects QUEUED with an expiry.
  void ExpectQueued(const SendDeviceRequestRequest& request) {
    CallResult call = SendRequest(stub(), request);
    ASSERT_TRUE(call.status.ok()) << call << Log();
    EXPECT_EQ(call.response.status(), hive::bridge::v1::REQUEST_STATUS_QUEUED) << call;
    EXPECT_EQ(call.response.request_id(), request.request_id());
    EXPECT_TRUE(call.response.has_expires_at()) << call;
  }

  ::testing::AssertionResult AwaitStatus(const std::string& request_id, RequestStatus status) {
    return WaitUntil([&] { return GetRequest(stub(), request_id).record.status() == status; },
                     absl::StrCat("GetRequest ", request_id, " says ", hive::bridge::v1::RequestStatus_Name(status)));
  }

  StateDir state_;
};

TEST_F(QueuedRequestsTest, QueuedRequestsReachTheDeviceOnceInOrderWhenItConnects) {
  StartOwnBridge({state_.flag()});
  TestDevice& device = NewDevice({.responder = Responder::Ack()});
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    SendDeviceRequestRequest request = Queued(device.device_id());
    ExpectQueued(request);
    ids.push_back(request.request_id());
    EXPECT_EQ(GetRequest(stub(), ids.back()).record.status(), hive::bridge::v1::REQUEST_STATUS_QUEUED);
  }
  EXPECT_EQ(device.received_requests(), 0);

  ConnectListed(device, bridge(), stub());
  ASSERT_TRUE(WaitUntil([&] { return device.received_requests() >= 3; }, "the queued requests reach the device"))
      << device.Transcript() << Log();
  for (const std::string& id : ids) ASSERT_TRUE(AwaitStatus(id, hive::bridge::v1::REQUEST_STATUS_ACKED)) << Log();
  // A retry of a delivered request is answered from its record, never resent;
  // a new one with nothing queued before it goes at once.
  SendDeviceRequestRequest again = Queued(device.device_id());
  again.set_request_id(ids[0]);
  CallResult retry = SendRequest(stub(), again);
  ASSERT_TRUE(retry.status.ok()) << retry;
  EXPECT_EQ(retry.response.status(), hive::bridge::v1::REQUEST_STATUS_ACKED) << retry;
  SendDeviceRequestRequest direct = Queued(device.device_id());
  CallResult sent = SendRequest(stub(), direct);
  ASSERT_TRUE(sent.status.ok()) << sent;
  EXPECT_EQ(sent.response.status(), hive::bridge::v1::REQUEST_STATUS_ACKED) << sent;
  ids.push_back(direct.request_id());
  EXPECT_THAT(device.received_request_ids(), ElementsAreArray(ids)) << device.Transcript();
}

TEST_F(QueuedRequestsTest, RequestWhoseTtlPassedIsNeverDelivered) {
  StartOwnBridge({state_.flag()});
  TestDevice& device = NewDevice({.responder = Responder::Ack()});
  SendDeviceRequestRequest brief = Queued(device.device_id(), absl::Seconds(1));
  SendDeviceRequestRequest lasting = Queued(device.device_id());
  ExpectQueued(brief);
  ExpectQueued(lasting);
  ASSERT_TRUE(AwaitStatus(brief.request_id(), hive::bridge::v1::REQUEST_STATUS_EXPIRED)) << Log();

  ConnectListed(device, bridge(), stub());
  ASSERT_TRUE(WaitUntil([&] { return TimesReceived(device, lasting.request_id()) == 1; }, "the lasting one arrives"))
      << device.Transcript();
  EXPECT_EQ(TimesReceived(device, brief.request_id()), 0) << device.Transcript();
  EXPECT_EQ(GetRequest(stub(), brief.request_id()).record.status(), hive::bridge::v1::REQUEST_STATUS_EXPIRED);
  // Expired, it cannot be cancelled.
  RecordResult cancel = CancelRequest(stub(), brief.request_id());
  EXPECT_EQ(cancel.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << cancel.status.error_message();
}

TEST_F(QueuedRequestsTest, CancelledRequestIsNeverDeliveredAndDeliveredOneCannotBeCancelled) {
  StartOwnBridge({state_.flag()});
  TestDevice& device = NewDevice({.responder = Responder::Ack()});
  SendDeviceRequestRequest cancelled = Queued(device.device_id());
  SendDeviceRequestRequest kept = Queued(device.device_id());
  ExpectQueued(cancelled);
  ExpectQueued(kept);
  RecordResult cancel = CancelRequest(stub(), cancelled.request_id());
  ASSERT_TRUE(cancel.status.ok()) << cancel.status.error_message();
  EXPECT_EQ(cancel.record.status(), hive::bridge::v1::REQUEST_STATUS_CANCELLED);
  EXPECT_EQ(cancel.record.device_id(), device.device_id());
  RecordResult again = CancelRequest(stub(), cancelled.request_id());
  ASSERT_TRUE(again.status.ok()) << again.status.error_message();
  EXPECT_EQ(again.record.status(), hive::bridge::v1::REQUEST_STATUS_CANCELLED);

  ConnectListed(device, bridge(), stub());
  ASSERT_TRUE(AwaitStatus(kept.request_id(), hive::bridge::v1::REQUEST_STATUS_ACKED)) << Log();
  EXPECT_EQ(TimesReceived(device, cancelled.request_id()), 0) << device.Transcript();
  EXPECT_EQ(TimesReceived(device, kept.request_id()), 1) << device.Transcript();

  EXPECT_EQ(MetricValue(bridge(), R"(hivebridge_queued_requests_ended_total{status="cancelled"})"), 1u);
  RecordResult late = CancelRequest(stub(), kept.request_id());
  EXPECT_EQ(late.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(late.status.error_message(), HasSubstr("already handed to the device at"));
}

TEST_F(QueuedRequestsTest, KillDashNineBetweenQueueingAndDeliveryLosesNothing) {
  StartOwnBridge({state_.flag()});
  const std::string device_id = NewId();
  const std::string account_id = NewId();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    SendDeviceRequestRequest request = Queued(device_id);
    ExpectQueued(request);
    ids.push_back(request.request_id());
  }
  bridge().Signal(SIGKILL);
  ASSERT_TRUE(bridge().Wait(absl::Seconds(10)).has_value());

  StartOwnBridge({state_.flag()});
  EXPECT_EQ(GetRequest(stub(), ids[0]).record.status(), hive::bridge::v1::REQUEST_STATUS_QUEUED);
  TestDevice& device = Connect({.device_id = device_id, .account_id = account_id, .responder = Responder::Ack()});
  for (const std::string& id : ids) ASSERT_TRUE(AwaitStatus(id, hive::bridge::v1::REQUEST_STATUS_ACKED)) << Log();
  EXPECT_THAT(device.received_request_ids(), ElementsAreArray(ids)) << device.Transcript();
}

TEST_F(QueuedRequestsTest, RequestHandedOverBeforeAKillDashNineIsUnconfirmedAndNeverSentAgain) {
  StartOwnBridge({state_.flag()});
  const std::string device_id = NewId();
  const std::string account_id = NewId();
  // This device receives the request and never answers it.
  TestDevice& silent = NewDevice({.device_id = device_id, .account_id = account_id});
  SendDeviceRequestRequest handed = Queued(device_id);
  ExpectQueued(handed);
  ConnectListed(silent, bridge(), stub());
  ASSERT_TRUE(WaitUntil([&] { return TimesReceived(silent, handed.request_id()) == 1; }, "the request arrives"))
      << silent.Transcript();
  bridge().Signal(SIGKILL);
  ASSERT_TRUE(bridge().Wait(absl::Seconds(10)).has_value());

  StartOwnBridge({state_.flag()});
  RecordResult after = GetRequest(stub(), handed.request_id());
  ASSERT_TRUE(after.status.ok()) << after.status.error_message();
  EXPECT_EQ(after.record.status(), hive::bridge::v1::REQUEST_STATUS_UNCONFIRMED);
  EXPECT_THAT(after.record.error(), HasSubstr("not sent again"));
  // A retry is told so, and sends nothing.
  CallResult retry = SendRequest(stub(), handed);
  EXPECT_EQ(retry.status.error_code(), grpc::StatusCode::ABORTED) << retry;
  SendDeviceRequestRequest next = Queued(device_id);
  ExpectQueued(next);
  TestDevice& again = Connect({.device_id = device_id, .account_id = account_id, .responder = Responder::Ack()});
  ASSERT_TRUE(AwaitStatus(next.request_id(), hive::bridge::v1::REQUEST_STATUS_ACKED)) << Log();
  EXPECT_THAT(again.received_request_ids(), ElementsAre(next.request_id())) << again.Transcript();
}

TEST_F(QueuedRequestsTest, ConnectionLostAfterTheWriteLeavesItUnconfirmedAndNeverSentAgain) {
  StartOwnBridge({state_.flag()});
  const std::string device_id = NewId();
  const std::string account_id = NewId();
  TestDevice& silent = NewDevice({.device_id = device_id, .account_id = account_id});
  SendDeviceRequestRequest handed = Queued(device_id);
  ExpectQueued(handed);
  ConnectListed(silent, bridge(), stub());
  ASSERT_TRUE(WaitUntil([&] { return TimesReceived(silent, handed.request_id()) == 1; }, "the request arrives"))
      << silent.Transcript();
  silent.Abort();
  ASSERT_TRUE(AwaitStatus(handed.request_id(), hive::bridge::v1::REQUEST_STATUS_UNCONFIRMED)) << Log();

  SendDeviceRequestRequest next = Queued(device_id);
  ExpectQueued(next);
  TestDevice& again = Connect({.device_id = device_id, .account_id = account_id, .responder = Responder::Ack()});
  ASSERT_TRUE(AwaitStatus(next.request_id(), hive::bridge::v1::REQUEST_STATUS_ACKED)) << Log();
  EXPECT_THAT(again.received_request_ids(), ElementsAre(next.request_id())) << again.Transcript();
}

TEST_F(QueuedRequestsTest, EveryOutcomeIsAnEventOnSubscribeEvents) {
  StartOwnBridge({state_.flag()});
  SubscribeEventsRequest filter;
  filter.add_types("request-outcome");
  EventStream& events = Subscribe(filter);
  TestDevice& device = NewDevice({.responder = Responder::AckThenOk(R"({"done":true})")});
  SendDeviceRequestRequest queued = Queued(device.device_id());
  queued.set_wait(hive::bridge::v1::WAIT_MODE_RESULT);
  ExpectQueued(queued);
  ConnectListed(device, bridge(), stub());

  std::vector<RequestStatus> seen;
  while (seen.empty() || seen.back() != hive::bridge::v1::REQUEST_STATUS_SUCCEEDED) {
    std::optional<DeviceEvent> event = events.Next(kEventTimeout);
    ASSERT_TRUE(event.has_value()) << "events so far: " << seen.size() << Log();
    ASSERT_EQ(event->type(), "request-outcome");
    EXPECT_EQ(event->service(), "hive-backend");
    EXPECT_EQ(event->device_id(), device.device_id());
    EXPECT_EQ(event->request_outcome().request_id(), queued.request_id());
    seen.push_back(event->request_outcome().status());
  }
  EXPECT_THAT(seen, ElementsAre(hive::bridge::v1::REQUEST_STATUS_QUEUED, hive::bridge::v1::REQUEST_STATUS_SENT,
                                hive::bridge::v1::REQUEST_STATUS_ACKED, hive::bridge::v1::REQUEST_STATUS_SUCCEEDED));

  // A request sent at once reports its outcomes when asked to.
  SendDeviceRequestRequest direct = RequestTo(device.device_id());
  direct.set_request_id(NewUuid());
  direct.set_outcome_events(true);
  CallResult call = SendRequest(stub(), direct);
  ASSERT_TRUE(call.status.ok()) << call;
  std::optional<DeviceEvent> sent = events.Next(kEventTimeout);
  ASSERT_TRUE(sent.has_value()) << Log();
  EXPECT_EQ(sent->request_outcome().request_id(), direct.request_id());
  EXPECT_EQ(sent->request_outcome().status(), hive::bridge::v1::REQUEST_STATUS_SENT);
  EXPECT_EQ(sent->account_id(), device.account_id());
}

// A caller restricted to account A learns nothing of account B's requests:
// GetRequest and CancelRequest answer NOT_FOUND, as for an unknown id; it
// must name its account to queue (the offline device's account is unknown).
TEST_F(QueuedRequestsTest, RestrictedCallerSeesOnlyItsAccountsRequests) {
  const std::string account_a = NewUuid();
  const std::string account_b = NewUuid();
  const std::string policy = ::testing::TempDir() + "/policy-" + NewUuid();
  std::ofstream(policy) << "billing token:billing-token-0123456789 " << account_a << "\n"
                        << "ops token:ops-token-0123456789abcdef *\n";
  StartOwnBridge({state_.flag(), "--backend-policy-file=" + policy});
  auto call = [&](const std::string& token, auto rpc) {
    grpc::ClientContext context;
    SetDeadline(context, kDefaultCallDeadline);
    context.AddMetadata("authorization", "Bearer " + token);
    return rpc(context);
  };
  auto queue = [&](const std::string& token, SendDeviceRequestRequest request) {
    SendDeviceRequestResponse response;
    return call(token,
                [&](grpc::ClientContext& context) { return stub().SendDeviceRequest(&context, request, &response); });
  };
  auto get = [&](const std::string& token, const std::string& id) {
    hive::bridge::v1::GetRequestRequest request;
    request.set_request_id(id);
    hive::bridge::v1::GetRequestResponse response;
    return call(token, [&](grpc::ClientContext& context) { return stub().GetRequest(&context, request, &response); });
  };
  SendDeviceRequestRequest of_b = Queued(NewId());
  of_b.set_account_id(account_b);
  ASSERT_TRUE(queue("ops-token-0123456789abcdef", of_b).ok());
  SendDeviceRequestRequest of_a = Queued(NewId());
  of_a.set_account_id(account_a);
  ASSERT_TRUE(queue("billing-token-0123456789", of_a).ok());

  EXPECT_TRUE(get("billing-token-0123456789", of_a.request_id()).ok());
  grpc::Status hidden = get("billing-token-0123456789", of_b.request_id());
  EXPECT_EQ(hidden.error_code(), grpc::StatusCode::NOT_FOUND) << hidden.error_message();
  EXPECT_TRUE(get("ops-token-0123456789abcdef", of_b.request_id()).ok());
  hive::bridge::v1::CancelRequestRequest cancel;
  cancel.set_request_id(of_b.request_id());
  hive::bridge::v1::CancelRequestResponse cancelled;
  grpc::Status denied = call("billing-token-0123456789", [&](grpc::ClientContext& context) {
    return stub().CancelRequest(&context, cancel, &cancelled);
  });
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::NOT_FOUND) << denied.error_message();

  grpc::Status unnamed = queue("billing-token-0123456789", Queued(NewId()));
  EXPECT_EQ(unnamed.error_code(), grpc::StatusCode::PERMISSION_DENIED) << unnamed.error_message();
  EXPECT_THAT(unnamed.error_message(), HasSubstr("account_id"));
  std::remove(policy.c_str());
}

TEST_F(QueuedRequestsTest, TtlOverTheCeilingIsInvalid) {
  StartOwnBridge({state_.flag(), "--max-queue-ttl=1h"});
  CallResult call = SendRequest(stub(), Queued(NewId(), absl::Hours(2)));
  EXPECT_EQ(call.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << call;
  EXPECT_THAT(call.status.error_message(), HasSubstr("--max-queue-ttl"));
}

TEST_F(QueuedRequestsTest, FullQueueOfADeviceIsResourceExhausted) {
  StartOwnBridge({state_.flag(), "--max-queued-per-device=2"});
  const std::string device_id = NewId();
  ExpectQueued(Queued(device_id));
  ExpectQueued(Queued(device_id));
  CallResult full = SendRequest(stub(), Queued(device_id));
  EXPECT_EQ(full.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << full;
  EXPECT_THAT(full.status.error_message(), HasSubstr("--max-queued-per-device"));
  // Another device's queue is not full.
  ExpectQueued(Queued(NewId()));
  EXPECT_EQ(MetricValue(bridge(), R"(hivebridge_limit_refusals_total{limit="max-queued-per-device"})"), 1u);
  EXPECT_EQ(MetricValue(bridge(), "hivebridge_queued_requests"), 3u);
  EXPECT_GT(MetricValue(bridge(), "hivebridge_queued_request_bytes"), 0u);
}

TEST_F(QueuedRequestsTest, UnknownRequestIsNotFound) {
  StartOwnBridge({state_.flag()});
  const std::string id = NewUuid();
  RecordResult get = GetRequest(stub(), id);
  EXPECT_EQ(get.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(get.status.error_message(), HasSubstr("never sent, or forgotten"));
  RecordResult cancel = CancelRequest(stub(), id);
  EXPECT_EQ(cancel.status.error_code(), grpc::StatusCode::NOT_FOUND);
  RecordResult bad = GetRequest(stub(), "not-a-uuid");
  EXPECT_EQ(bad.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.status.error_message(), HasSubstr("request_id"));
}

TEST_F(QueuedRequestsTest, QueueTtlWithoutStateDirIsFailedPrecondition) {
  StartOwnBridge();
  CallResult call = SendRequest(stub(), Queued(NewId()));
  EXPECT_EQ(call.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << call;
  EXPECT_THAT(call.status.error_message(), HasSubstr("--state-dir"));
}

}  // namespace
}  // namespace hive::integration

#include "bridge/queue/request_queue.h"

#include <filesystem>
#include <memory>
#include <string>

#include "bridge/uuid.h"
#include "gtest/gtest.h"
#include "tests/unit/support/fake_clock.h"

namespace hive {
namespace {

using hive::bridge::v1::REQUEST_STATUS_ACKED;
using hive::bridge::v1::REQUEST_STATUS_CANCELLED;
using hive::bridge::v1::REQUEST_STATUS_EXPIRED;
using hive::bridge::v1::REQUEST_STATUS_QUEUED;
using hive::bridge::v1::REQUEST_STATUS_SENT;
using hive::bridge::v1::REQUEST_STATUS_SUCCEEDED;
using hive::bridge::v1::REQUEST_STATUS_UNCONFIRMED;
using hive::bridge::v1::SendDeviceRequestResponse;

class RequestQueueTest : public ::testing::Test {
 protected:
  RequestQueueTest() { std::filesystem::create_directories(dir_); }
  ~RequestQueueTest() override {
    queue_.reset();
    std::filesystem::remove_all(dir_);
  }

  RequestQueue& Open(RequestQueue::Limits limits = {}) {
    queue_.reset();
    absl::StatusOr<std::unique_ptr<RequestQueue>> queue = RequestQueue::Open(StateDbPath(dir_), limits, clock_);
    EXPECT_TRUE(queue.ok()) << queue.status();
    queue_ = *std::move(queue);
    queue_->CountRefusalsIn(&counters_);
    return *queue_;
  }

  // A raw request of `bytes` payload bytes for `device_id`.
  static SendDeviceRequestRequest Request(const std::string& device_id, size_t bytes = 10) {
    SendDeviceRequestRequest request;
    request.set_request_id(NewUuid());
    request.set_device_id(device_id);
    request.mutable_command()->mutable_raw()->set_command("Thing.do");
    (*request.mutable_command()->mutable_raw()->mutable_payload()->mutable_fields())["pad"].set_string_value(
        std::string(bytes, 'x'));
    return request;
  }

  static std::vector<std::string> Ids(const std::vector<RequestQueue::Stored>& stored) {
    std::vector<std::string> ids;
    for (const RequestQueue::Stored& one : stored) ids.push_back(one.request.request_id());
    return ids;
  }

  const std::string dir_ = ::testing::TempDir() + "/request-queue-" + NewUuid();
  testing::FakeClock clock_;
  LimitCounters counters_;
  std::unique_ptr<RequestQueue> queue_;
};

TEST_F(RequestQueueTest, DeliversInTheOrderQueued) {
  RequestQueue& queue = Open();
  const std::string device = NewUuid();
  std::vector<std::string> queued;
  for (int i = 0; i < 5; ++i) {
    SendDeviceRequestRequest request = Request(device);
    ASSERT_TRUE(queue.Enqueue(request, 1, absl::Hours(1)).ok());
    queued.push_back(request.request_id());
  }
  ASSERT_TRUE(queue.Enqueue(Request(NewUuid()), 1, absl::Hours(1)).ok());  // another device's
  absl::StatusOr<std::vector<RequestQueue::Stored>> due = queue.Queued(device, 100);
  ASSERT_TRUE(due.ok()) << due.status();
  EXPECT_EQ(Ids(*due), queued);
  EXPECT_EQ(queue.queued_for(device), 5u);
  // Handed over, it is no longer queued; the others keep their order.
  ASSERT_TRUE(*queue.HandOver(queued[0]));
  EXPECT_FALSE(*queue.HandOver(queued[0]));
  due = queue.Queued(device, 2);
  EXPECT_EQ(Ids(*due), (std::vector<std::string>{queued[1], queued[2]}));
  EXPECT_EQ(queue.queued_for(device), 4u);
}

TEST_F(RequestQueueTest, SameIdAnswersTheRecordAndNeverQueuesTwice) {
  RequestQueue& queue = Open();
  SendDeviceRequestRequest request = Request(NewUuid());
  absl::StatusOr<RequestQueue::Enqueued> first = queue.Enqueue(request, 7, absl::Hours(1));
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->inserted);
  EXPECT_EQ(first->record.status(), REQUEST_STATUS_QUEUED);
  absl::StatusOr<RequestQueue::Enqueued> again = queue.Enqueue(request, 7, absl::Hours(1));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->inserted);
  EXPECT_EQ(queue.queued_for(request.device_id()), 1u);

  absl::StatusOr<RequestQueue::Enqueued> other = queue.Enqueue(request, 8, absl::Hours(1));
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(other.status().message().find("different request"), std::string::npos) << other.status();
  SendDeviceRequestRequest moved = request;
  moved.set_device_id(NewUuid());
  EXPECT_EQ(queue.Enqueue(moved, 7, absl::Hours(1)).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RequestQueueTest, RefusesOverTheCountPerDeviceAndInAll) {
  RequestQueue& queue = Open({.max_per_device = 2, .max_requests = 3, .max_bytes = size_t{1} << 20});
  const std::string device = NewUuid();
  ASSERT_TRUE(queue.Enqueue(Request(device), 1, absl::Hours(1)).ok());
  ASSERT_TRUE(queue.Enqueue(Request(device), 1, absl::Hours(1)).ok());
  absl::StatusOr<RequestQueue::Enqueued> full = queue.Enqueue(Request(device), 1, absl::Hours(1));
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(full.status().message().find("--max-queued-per-device"), std::string::npos) << full.status();
  EXPECT_EQ(counters_.value(Limit::kMaxQueuedPerDevice), 1u);

  ASSERT_TRUE(queue.Enqueue(Request(NewUuid()), 1, absl::Hours(1)).ok());
  absl::StatusOr<RequestQueue::Enqueued> all = queue.Enqueue(Request(NewUuid()), 1, absl::Hours(1));
  EXPECT_EQ(all.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(all.status().message().find("--max-queued-requests"), std::string::npos) << all.status();
  EXPECT_EQ(counters_.value(Limit::kMaxQueuedRequests), 1u);
}

TEST_F(RequestQueueTest, RefusesOverTheBytes) {
  RequestQueue& queue = Open({.max_per_device = 100, .max_requests = 100, .max_bytes = 3000});
  ASSERT_TRUE(queue.Enqueue(Request(NewUuid(), 1000), 1, absl::Hours(1)).ok());
  ASSERT_TRUE(queue.Enqueue(Request(NewUuid(), 1000), 1, absl::Hours(1)).ok());
  absl::StatusOr<RequestQueue::Enqueued> big = queue.Enqueue(Request(NewUuid(), 1000), 1, absl::Hours(1));
  EXPECT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(big.status().message().find("--max-queued-bytes"), std::string::npos) << big.status();
  EXPECT_EQ(counters_.value(Limit::kMaxQueuedBytes), 1u);
  EXPECT_GT(queue.stats().queued_bytes, 2000u);
  // A small one still fits.
  EXPECT_TRUE(queue.Enqueue(Request(NewUuid(), 10), 1, absl::Hours(1)).ok());
}

TEST_F(RequestQueueTest, ReopeningReloadsRecordsAndCounts) {
  const std::string device = NewUuid();
  SendDeviceRequestRequest first = Request(device, 100);
  SendDeviceRequestRequest second = Request(device, 100);
  SendDeviceRequestRequest handed = Request(device, 100);
  SendDeviceRequestRequest acked = Request(device, 100);
  {
    RequestQueue& queue = Open();
    for (const SendDeviceRequestRequest* request : {&handed, &acked, &first, &second}) {
      ASSERT_TRUE(queue.Enqueue(*request, 1, absl::Hours(1)).ok());
    }
    ASSERT_TRUE(*queue.HandOver(handed.request_id()));
    ASSERT_TRUE(*queue.HandOver(acked.request_id()));
    SendDeviceRequestResponse outcome;
    outcome.set_status(REQUEST_STATUS_ACKED);
    ASSERT_TRUE(queue.Progress(acked.request_id(), REQUEST_STATUS_ACKED, outcome, "", false).ok());
  }
  RequestQueue& queue = Open();
  EXPECT_EQ(queue.queued_for(device), 2u);
  EXPECT_EQ(queue.stats().queued, 2u);
  EXPECT_TRUE(queue.Knows(first.request_id()));
  EXPECT_EQ(Ids(*queue.Queued(device, 10)), (std::vector<std::string>{first.request_id(), second.request_id()}));
  // Handed over before the stop: the device may have it, so never again.
  std::vector<RequestRecord> recovered = queue.TakeRecovered();
  ASSERT_EQ(recovered.size(), 1u);
  EXPECT_EQ(recovered[0].request_id(), handed.request_id());
  EXPECT_EQ(recovered[0].status(), REQUEST_STATUS_UNCONFIRMED);
  EXPECT_EQ((*queue.Get(handed.request_id()))->record.status(), REQUEST_STATUS_UNCONFIRMED);
  EXPECT_EQ((*queue.Get(acked.request_id()))->record.status(), REQUEST_STATUS_ACKED);
  // New requests go after the old ones.
  SendDeviceRequestRequest third = Request(device);
  ASSERT_TRUE(queue.Enqueue(third, 1, absl::Hours(1)).ok());
  EXPECT_EQ(Ids(*queue.Queued(device, 10)),
            (std::vector<std::string>{first.request_id(), second.request_id(), third.request_id()}));
}

TEST_F(RequestQueueTest, ExpiresOnlyWhatIsDueAndStillQueued) {
  RequestQueue& queue = Open();
  const std::string device = NewUuid();
  SendDeviceRequestRequest soon = Request(device);
  SendDeviceRequestRequest later = Request(device);
  SendDeviceRequestRequest handed = Request(device);
  ASSERT_TRUE(queue.Enqueue(soon, 1, absl::Seconds(10)).ok());
  ASSERT_TRUE(queue.Enqueue(later, 1, absl::Seconds(60)).ok());
  ASSERT_TRUE(queue.Enqueue(handed, 1, absl::Seconds(10)).ok());
  ASSERT_TRUE(*queue.HandOver(handed.request_id()));
  clock_.Advance(absl::Seconds(9));
  EXPECT_TRUE(queue.ExpireDue()->empty());
  clock_.Advance(absl::Seconds(1));
  absl::StatusOr<std::vector<RequestRecord>> expired = queue.ExpireDue();
  ASSERT_TRUE(expired.ok()) << expired.status();
  ASSERT_EQ(expired->size(), 1u);
  EXPECT_EQ((*expired)[0].request_id(), soon.request_id());
  EXPECT_EQ((*expired)[0].status(), REQUEST_STATUS_EXPIRED);
  EXPECT_EQ(queue.queued_for(device), 1u);
  EXPECT_EQ((*queue.Get(handed.request_id()))->record.status(), REQUEST_STATUS_SENT);
  // Expired, it can be neither handed over nor cancelled.
  EXPECT_FALSE(*queue.HandOver(soon.request_id()));
  EXPECT_EQ(queue.Cancel(soon.request_id()).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(RequestQueueTest, CancelsOnlyQueuedRequests) {
  RequestQueue& queue = Open();
  const std::string device = NewUuid();
  SendDeviceRequestRequest waiting = Request(device);
  SendDeviceRequestRequest handed = Request(device);
  ASSERT_TRUE(queue.Enqueue(waiting, 1, absl::Hours(1)).ok());
  ASSERT_TRUE(queue.Enqueue(handed, 1, absl::Hours(1)).ok());
  ASSERT_TRUE(*queue.HandOver(handed.request_id()));

  absl::StatusOr<RequestQueue::Cancelled> cancelled = queue.Cancel(waiting.request_id());
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_TRUE(cancelled->changed);
  EXPECT_EQ(cancelled->record.status(), REQUEST_STATUS_CANCELLED);
  EXPECT_EQ(queue.queued_for(device), 0u);
  EXPECT_FALSE(*queue.HandOver(waiting.request_id()));
  absl::StatusOr<RequestQueue::Cancelled> again = queue.Cancel(waiting.request_id());
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed);

  absl::StatusOr<RequestQueue::Cancelled> late = queue.Cancel(handed.request_id());
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(late.status().message().find("already handed to the device"), std::string::npos) << late.status();
  EXPECT_EQ(queue.Cancel(NewUuid()).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RequestQueueTest, RequeuedRequestKeepsItsPlace) {
  RequestQueue& queue = Open();
  const std::string device = NewUuid();
  SendDeviceRequestRequest first = Request(device);
  SendDeviceRequestRequest second = Request(device);
  ASSERT_TRUE(queue.Enqueue(first, 1, absl::Hours(1)).ok());
  ASSERT_TRUE(queue.Enqueue(second, 1, absl::Hours(1)).ok());
  ASSERT_TRUE(*queue.HandOver(first.request_id()));
  ASSERT_TRUE(queue.Requeue(first.request_id()).ok());
  EXPECT_EQ(queue.queued_for(device), 2u);
  EXPECT_EQ(Ids(*queue.Queued(device, 10)), (std::vector<std::string>{first.request_id(), second.request_id()}));
}

TEST_F(RequestQueueTest, DeletesEndedRecordsAfterTheRetention) {
  RequestQueue& queue = Open();
  const std::string device = NewUuid();
  SendDeviceRequestRequest answered = Request(device);
  SendDeviceRequestRequest cancelled = Request(device);
  SendDeviceRequestRequest waiting = Request(device);
  for (const SendDeviceRequestRequest* request : {&answered, &cancelled, &waiting}) {
    ASSERT_TRUE(queue.Enqueue(*request, 1, absl::Hours(10)).ok());
  }
  ASSERT_TRUE(*queue.HandOver(answered.request_id()));
  SendDeviceRequestResponse outcome;
  outcome.set_status(REQUEST_STATUS_SUCCEEDED);
  absl::StatusOr<std::optional<RequestRecord>> done =
      queue.Progress(answered.request_id(), REQUEST_STATUS_SUCCEEDED, outcome, "", true);
  ASSERT_TRUE(done.ok() && done->has_value());
  EXPECT_EQ((*done)->status(), REQUEST_STATUS_SUCCEEDED);
  ASSERT_TRUE(queue.Cancel(cancelled.request_id()).ok());

  clock_.Advance(absl::Minutes(59));
  EXPECT_EQ(*queue.DeleteEnded(absl::Hours(1)), 0u);
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(*queue.DeleteEnded(absl::Hours(1)), 2u);
  EXPECT_FALSE(queue.Knows(answered.request_id()));
  EXPECT_FALSE(queue.Get(cancelled.request_id())->has_value());
  EXPECT_TRUE(queue.Knows(waiting.request_id()));
  // Ended counts by status, for /metrics.
  for (const auto& [status, count] : queue.stats().ended) {
    const bool one = status == REQUEST_STATUS_SUCCEEDED || status == REQUEST_STATUS_CANCELLED;
    EXPECT_EQ(count, one ? 1u : 0u) << hive::bridge::v1::RequestStatus_Name(status);
  }
}

}  // namespace
}  // namespace hive

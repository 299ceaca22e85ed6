// RequestQueue in cluster mode: views fed by one shared log agree, and the
// first of two competing operations in the log wins on every view. The log
// here is a vector applied to every view as it is appended (the order the
// stream gives them), so each test decides the interleaving.
#include <memory>
#include <string>
#include <vector>

#include "bridge/queue/request_queue.h"
#include "bridge/uuid.h"
#include "gtest/gtest.h"
#include "tests/unit/support/fake_clock.h"

namespace hive {
namespace {

using hive::bridge::v1::REQUEST_STATUS_CANCELLED;
using hive::bridge::v1::REQUEST_STATUS_EXPIRED;
using hive::bridge::v1::REQUEST_STATUS_QUEUED;
using hive::bridge::v1::REQUEST_STATUS_SENT;
using hive::bridge::v1::REQUEST_STATUS_UNCONFIRMED;
using hive::bridge::v1::RequestStatus;

// The fleet's log: every appended operation is applied, in order, to every
// view. `held` keeps operations back (a broker slow to return them) until
// Release.
class SharedLog final : public QueueLog {
 public:
  bool Append(const QueueOp& op) override {
    if (!up) return false;
    ops.push_back(op);
    for (RequestQueue* view : views) view->Apply(op);
    return true;
  }

  bool up = true;
  std::vector<RequestQueue*> views;
  std::vector<QueueOp> ops;
};

class ReplicatedQueueTest : public ::testing::Test {
 protected:
  ReplicatedQueueTest() {
    for (const char* replica : {"replica-1", "replica-2"}) {
      absl::StatusOr<std::unique_ptr<RequestQueue>> view = RequestQueue::OpenView({.max_per_device = 2}, clock_);
      EXPECT_TRUE(view.ok()) << view.status();
      (*view)->Replicate(
          &log_, replica, [this](const std::string& device_id) { arrived_.push_back(device_id); },
          [](const std::vector<std::string>& /*request_ids*/) {});
      log_.views.push_back(view->get());
      views_.push_back(*std::move(view));
    }
  }

  RequestQueue& view(int index) { return *views_[index - 1]; }

  static SendDeviceRequestRequest Request(const std::string& device_id) {
    SendDeviceRequestRequest request;
    request.set_request_id(NewUuid());
    request.set_device_id(device_id);
    request.mutable_command()->mutable_raw()->set_command("Thing.do");
    return request;
  }

  RequestStatus StatusOn(int index, const std::string& request_id) {
    absl::StatusOr<std::optional<RequestQueue::Stored>> stored = view(index).Get(request_id);
    EXPECT_TRUE(stored.ok()) << stored.status();
    return stored.ok() && stored->has_value() ? (*stored)->record.status()
                                              : hive::bridge::v1::REQUEST_STATUS_UNSPECIFIED;
  }

  testing::FakeClock clock_;
  SharedLog log_;
  std::vector<std::unique_ptr<RequestQueue>> views_;
  std::vector<std::string> arrived_;
  const std::string device_ = NewUuid();
};

TEST_F(ReplicatedQueueTest, QueuedOnOneViewIsKnownToEveryViewAndAnnouncedForDelivery) {
  SendDeviceRequestRequest request = Request(device_);
  absl::StatusOr<RequestQueue::Enqueued> queued = view(1).Enqueue(request, 7, absl::Minutes(1));
  ASSERT_TRUE(queued.ok()) << queued.status();
  EXPECT_TRUE(queued->inserted);
  EXPECT_EQ(queued->record.status(), REQUEST_STATUS_QUEUED);
  EXPECT_TRUE(view(2).Knows(request.request_id()));
  EXPECT_EQ(view(2).queued_for(device_), 1u);
  // Each view announces it (only the holder's deliverer finds a link).
  EXPECT_EQ(arrived_, (std::vector<std::string>{device_, device_}));
  // Queued again through the other view: the same request.
  absl::StatusOr<RequestQueue::Enqueued> again = view(2).Enqueue(request, 7, absl::Minutes(1));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->inserted);
  EXPECT_EQ(view(1).queued_for(device_), 1u);
  // Another request under its id is refused on every view.
  EXPECT_TRUE(absl::IsInvalidArgument(view(2).Enqueue(request, 8, absl::Minutes(1)).status()));
}

TEST_F(ReplicatedQueueTest, FirstClaimWinsAndTheLoserNeverHandsItOver) {
  SendDeviceRequestRequest request = Request(device_);
  ASSERT_TRUE(view(1).Enqueue(request, 7, absl::Minutes(1)).ok());
  absl::StatusOr<bool> first = view(2).HandOver(request.request_id());
  absl::StatusOr<bool> second = view(1).HandOver(request.request_id());
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_TRUE(*first);
  EXPECT_FALSE(*second);
  EXPECT_EQ(StatusOn(1, request.request_id()), REQUEST_STATUS_SENT);
  EXPECT_EQ(StatusOn(2, request.request_id()), REQUEST_STATUS_SENT);
  // Claimed, it can no longer be cancelled, from either view.
  absl::StatusOr<RequestQueue::Cancelled> cancel = view(1).Cancel(request.request_id());
  EXPECT_TRUE(absl::IsFailedPrecondition(cancel.status())) << cancel.status();
  // Only the winner's release puts it back in line.
  ASSERT_TRUE(view(1).Requeue(request.request_id()).ok());
  EXPECT_EQ(StatusOn(2, request.request_id()), REQUEST_STATUS_SENT);
  ASSERT_TRUE(view(2).Requeue(request.request_id()).ok());
  EXPECT_EQ(StatusOn(1, request.request_id()), REQUEST_STATUS_QUEUED);
}

TEST_F(ReplicatedQueueTest, CancelBeforeTheClaimWinsAndTheClaimLoses) {
  SendDeviceRequestRequest request = Request(device_);
  ASSERT_TRUE(view(1).Enqueue(request, 7, absl::Minutes(1)).ok());
  absl::StatusOr<RequestQueue::Cancelled> cancel = view(2).Cancel(request.request_id());
  ASSERT_TRUE(cancel.ok()) << cancel.status();
  EXPECT_TRUE(cancel->changed);
  absl::StatusOr<bool> claimed = view(1).HandOver(request.request_id());
  ASSERT_TRUE(claimed.ok());
  EXPECT_FALSE(*claimed);
  EXPECT_EQ(StatusOn(1, request.request_id()), REQUEST_STATUS_CANCELLED);
  EXPECT_EQ(view(1).queued_for(device_), 0u);
}

TEST_F(ReplicatedQueueTest, ExpiryIsDecidedByTheOperationsTimeAndReportedToItsIssuerOnly) {
  SendDeviceRequestRequest request = Request(device_);
  ASSERT_TRUE(view(1).Enqueue(request, 7, absl::Seconds(1)).ok());
  clock_.Advance(absl::Seconds(2));
  // A claim made after the TTL loses.
  absl::StatusOr<bool> claimed = view(2).HandOver(request.request_id());
  ASSERT_TRUE(claimed.ok());
  EXPECT_FALSE(*claimed);
  absl::StatusOr<std::vector<RequestRecord>> expired_by_1 = view(1).ExpireDue();
  absl::StatusOr<std::vector<RequestRecord>> expired_by_2 = view(2).ExpireDue();
  ASSERT_TRUE(expired_by_1.ok() && expired_by_2.ok());
  EXPECT_EQ(expired_by_1->size(), 1u);
  EXPECT_TRUE(expired_by_2->empty());  // the first EXPIRE did it
  EXPECT_EQ(StatusOn(2, request.request_id()), REQUEST_STATUS_EXPIRED);
}

TEST_F(ReplicatedQueueTest, LimitsAreTheFleetsAndAClaimOfAGoneReplicaBecomesUnconfirmed) {
  ASSERT_TRUE(view(1).Enqueue(Request(device_), 7, absl::Minutes(1)).ok());
  SendDeviceRequestRequest second = Request(device_);
  ASSERT_TRUE(view(2).Enqueue(second, 7, absl::Minutes(1)).ok());
  // --max-queued-per-device is 2 across both views.
  EXPECT_TRUE(absl::IsResourceExhausted(view(1).Enqueue(Request(device_), 7, absl::Minutes(1)).status()));

  ASSERT_TRUE(*view(2).HandOver(second.request_id()));
  EXPECT_EQ(view(1).ClaimedBy("replica-2"), std::vector<std::string>{second.request_id()});
  absl::StatusOr<std::optional<RequestRecord>> orphaned = view(1).Orphan(second.request_id(), "replica-2");
  ASSERT_TRUE(orphaned.ok()) << orphaned.status();
  ASSERT_TRUE(orphaned->has_value());
  EXPECT_EQ((*orphaned)->status(), REQUEST_STATUS_UNCONFIRMED);
  EXPECT_EQ(StatusOn(2, second.request_id()), REQUEST_STATUS_UNCONFIRMED);
  // Said twice, it changes nothing more.
  EXPECT_FALSE(view(2).Orphan(second.request_id(), "replica-2")->has_value());
}

TEST_F(ReplicatedQueueTest, ChangesWhileTheBrokerIsUnreachableAreUnavailable) {
  log_.up = false;
  absl::StatusOr<RequestQueue::Enqueued> queued = view(1).Enqueue(Request(device_), 7, absl::Minutes(1));
  EXPECT_TRUE(absl::IsUnavailable(queued.status())) << queued.status();
  EXPECT_EQ(view(1).queued_for(device_), 0u);
}

TEST_F(ReplicatedQueueTest, AViewHasCaughtUpOnceItReadsItsOwnMarkerBack) {
  EXPECT_FALSE(view(1).caught_up());
  QueueOp marker;
  marker.id = NewUuid();
  marker.replica = "replica-2";
  view(1).Apply(marker);
  EXPECT_FALSE(view(1).caught_up());  // another replica's
  marker.replica = "replica-1";
  view(1).Apply(marker);
  EXPECT_TRUE(view(1).caught_up());
}

}  // namespace
}  // namespace hive

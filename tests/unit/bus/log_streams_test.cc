#include "bridge/bus/log_streams.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bridge/bus/cluster_messages.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/support/fake_clock.h"

namespace hive {
namespace {

using ::testing::ElementsAre;

constexpr char kKey[] = "0123456789abcdef0123456789abcdef-cluster";

class Applied final : public QueueLogReader {
 public:
  void Apply(const QueueOp& op) override { ids.push_back(op.id); }
  std::vector<std::string> ids;
};

QueueOp Marker(const std::string& id) {
  QueueOp op;
  op.kind = QueueOp::Kind::kMarker;
  op.id = id;
  op.replica = "replica-2";
  op.at = absl::FromUnixSeconds(1'700'000'000);
  return op;
}

// The queue's log as the log streams read it, without a broker.
class LogStreamsTest : public ::testing::Test {
 protected:
  explicit LogStreamsTest(std::shared_ptr<const MessageSigner> signer = nullptr)
      : signatures_(std::move(signer), clock_), logs_("replica-1", clock_, signatures_, std::make_shared<Wakeup>()) {
    logs_.FeedQueue(&applied_);
  }

  // The queue's stream delivers `message` at `offset`.
  void Read(uint64_t offset, AmqpMessage message) {
    AmqpDelivery delivery;
    delivery.channel = 5;
    delivery.consumer = "queue";
    delivery.routing_key = std::string(cluster::kQueueStream);
    delivery.delivery_tag = offset + 1;
    delivery.message = std::move(message);
    delivery.message.headers.emplace_back("x-stream-offset", static_cast<int64_t>(offset));
    ASSERT_TRUE(logs_.OnDelivery(std::move(delivery)).ok());
  }

  testing::FakeClock clock_;
  ClusterSignatures signatures_;
  Applied applied_;
  LogStreams logs_;
};

TEST_F(LogStreamsTest, OperationsAreAppliedOnceInOffsetOrderAndForeignOnesPassedOver) {
  Read(0, cluster::EncodeQueueOp(Marker("a")));
  Read(0, cluster::EncodeQueueOp(Marker("a")));  // read again after a reconnect
  AmqpMessage foreign;
  foreign.body = "not an operation";
  Read(1, foreign);
  Read(2, cluster::EncodeQueueOp(Marker("b")));
  EXPECT_THAT(applied_.ids, ElementsAre("a", "b"));
}

class SignedLogStreamsTest : public LogStreamsTest {
 protected:
  SignedLogStreamsTest() : LogStreamsTest(Signer()) {}

  static std::shared_ptr<const MessageSigner> Signer() { return *MessageSigner::FromKey(kKey); }

  static AmqpMessage Signed(const QueueOp& op) {
    AmqpMessage message = cluster::EncodeQueueOp(op);
    Signer()->Sign({ClusterMessageKind::kQueueOp, "", cluster::kQueueStream}, message);
    return message;
  }
};

TEST_F(SignedLogStreamsTest, UnsignedOperationIsNotAppliedButTheLogMovesPastIt) {
  Read(3, cluster::EncodeQueueOp(Marker("forged")));
  EXPECT_TRUE(applied_.ids.empty());
  const RejectedCounts rejected = signatures_.rejected();
  EXPECT_EQ(rejected[static_cast<size_t>(ClusterMessageKind::kQueueOp)]
                    [static_cast<size_t>(SignatureRejection::kMissingSignature)],
            1u);
  // Its offset counts as read (a reconnect resumes after it).
  Read(3, Signed(Marker("at-3")));
  Read(4, Signed(Marker("at-4")));
  EXPECT_THAT(applied_.ids, ElementsAre("at-4"));
}

}  // namespace
}  // namespace hive

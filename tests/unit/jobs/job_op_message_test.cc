#include "bridge/bus/job_op_message.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hive::cluster {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

JobOp Op(JobOp::Kind kind) {
  JobOp op;
  op.kind = kind;
  op.id = "op-1";
  op.replica = "replica-a";
  op.job_id = "job-1";
  op.term = 3;
  return op;
}

TEST(JobOpMessage, StartCarriesTheJobAndItsSelectionInOrder) {
  JobOp op = Op(JobOp::Kind::kStart);
  op.job.set_job_id("job-1");
  op.job.set_replica("replica-a");
  op.device_ids = {"d2", "d1"};
  const AmqpMessage message = EncodeJobOp(op);
  EXPECT_TRUE(message.persistent);
  EXPECT_EQ(message.message_id, "op-1");
  absl::StatusOr<JobOp> decoded = DecodeJobOp(message);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->kind, JobOp::Kind::kStart);
  EXPECT_EQ(decoded->replica, "replica-a");
  EXPECT_EQ(decoded->job.replica(), "replica-a");
  EXPECT_EQ(decoded->term, 3u);
  EXPECT_THAT(decoded->device_ids, ElementsAre("d2", "d1"));
}

TEST(JobOpMessage, RecordCarriesTheChangeTheDeviceAndItsStatus) {
  JobOp op = Op(JobOp::Kind::kRecord);
  op.change.set_sequence(7);
  op.change.mutable_job()->set_job_id("job-1");
  op.change.mutable_outcome()->set_device_id("d1");
  op.index = 4;
  op.status = hive::bridge::v1::REQUEST_STATUS_ACKED;
  absl::StatusOr<JobOp> decoded = DecodeJobOp(EncodeJobOp(op));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->change.sequence(), 7u);
  EXPECT_EQ(decoded->change.outcome().device_id(), "d1");
  EXPECT_EQ(decoded->index, std::optional<size_t>(4));
  EXPECT_EQ(decoded->status, hive::bridge::v1::REQUEST_STATUS_ACKED);

  op.index.reset();
  decoded = DecodeJobOp(EncodeJobOp(op));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_FALSE(decoded->index.has_value()) << "a change of the job alone";
}

TEST(JobOpMessage, AdvanceLeaseCancelAndMarkerRoundTrip) {
  JobOp advance = Op(JobOp::Kind::kAdvance);
  advance.job.set_job_id("job-1");
  advance.next_index = 12;
  absl::StatusOr<JobOp> decoded = DecodeJobOp(EncodeJobOp(advance));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->next_index, 12u);

  decoded = DecodeJobOp(EncodeJobOp(Op(JobOp::Kind::kLease)));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->kind, JobOp::Kind::kLease);
  EXPECT_EQ(decoded->term, 3u);

  JobOp cancel = Op(JobOp::Kind::kCancel);
  cancel.reason = "cancelled by ops";
  decoded = DecodeJobOp(EncodeJobOp(cancel));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->reason, "cancelled by ops");

  JobOp marker = Op(JobOp::Kind::kMarker);
  marker.job_id.clear();
  marker.acknowledges = "cancel-op";
  decoded = DecodeJobOp(EncodeJobOp(marker));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->acknowledges, "cancel-op");
}

TEST(JobOpMessage, JoinCarriesTheJobTheNewcomersAndWhereTheyStart) {
  JobOp op = Op(JobOp::Kind::kJoin);
  op.job.set_job_id("job-1");
  op.job.mutable_counters()->set_joined(2);
  op.next_index = 40;
  op.device_ids = {"d9", "d3"};
  absl::StatusOr<JobOp> decoded = DecodeJobOp(EncodeJobOp(op));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->kind, JobOp::Kind::kJoin);
  EXPECT_EQ(decoded->term, 3u);
  EXPECT_EQ(decoded->next_index, 40u);
  EXPECT_EQ(decoded->job.counters().joined(), 2);
  EXPECT_THAT(decoded->device_ids, ElementsAre("d9", "d3"));

  op.device_ids.clear();
  EXPECT_THAT(DecodeJobOp(EncodeJobOp(op)).status().message(), HasSubstr("a join of no device"));
}

TEST(JobOpMessage, MalformedOperationsAreRefusedSayingWhat) {
  AmqpMessage message = EncodeJobOp(Op(JobOp::Kind::kLease));
  message.headers[0].second = std::string("bogus");
  EXPECT_THAT(DecodeJobOp(message).status().message(), HasSubstr("unknown kind \"bogus\""));

  JobOp no_job = Op(JobOp::Kind::kCancel);
  no_job.job_id.clear();
  EXPECT_THAT(DecodeJobOp(EncodeJobOp(no_job)).status().message(), HasSubstr("no job id"));

  JobOp zero = Op(JobOp::Kind::kLease);
  zero.term = 0;
  EXPECT_THAT(DecodeJobOp(EncodeJobOp(zero)).status().message(), HasSubstr("term 0"));

  JobOp start = Op(JobOp::Kind::kStart);
  start.job.set_job_id("another-job");
  EXPECT_THAT(DecodeJobOp(EncodeJobOp(start)).status().message(), HasSubstr("id differs"));

  message = EncodeJobOp(Op(JobOp::Kind::kRecord));
  message.body = "\xff\xff";
  EXPECT_FALSE(DecodeJobOp(message).ok());
}

}  // namespace
}  // namespace hive::cluster

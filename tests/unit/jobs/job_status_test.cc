#include "bridge/jobs/job_status.h"

#include "gtest/gtest.h"

namespace hive {
namespace {

using hive::bridge::v1::Job;

TEST(JobStatusTest, EveryFieldButTheSpecIsCopied) {
  // A field added to Job must be added to JobWithoutSpec (and here).
  ASSERT_EQ(Job::descriptor()->field_count(), 10);
  Job job;
  job.set_job_id("0b8e6c1a-5f1e-4c53-9d4e-0b1c2d3e4f50");
  job.mutable_spec()->set_description("restart");
  job.mutable_spec()->mutable_target()->mutable_devices()->add_device_ids("d1");
  job.set_state(hive::bridge::v1::JOB_STATE_ABORTED);
  job.mutable_counters()->set_selected(3);
  job.mutable_counters()->set_failed(2);
  job.set_wave(1);
  job.mutable_created_at()->set_seconds(10);
  job.mutable_ended_at()->set_seconds(20);
  job.set_end_reason("failure ratio 0.66");
  job.set_account_id("a");
  job.set_replica("r1");
  Job expected = job;
  expected.clear_spec();
  EXPECT_EQ(JobWithoutSpec(job).SerializeAsString(), expected.SerializeAsString());
  for (int i = 0; i < Job::descriptor()->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = Job::descriptor()->field(i);
    EXPECT_TRUE(Job::GetReflection()->HasField(job, field)) << field->name() << " is not set in this test";
  }
}

TEST(JobStatusTest, UnsetFieldsStayUnset) {
  Job job;
  job.set_job_id("j");
  EXPECT_FALSE(JobWithoutSpec(job).has_counters());
  EXPECT_FALSE(JobWithoutSpec(job).has_ended_at());
}

}  // namespace
}  // namespace hive

#include "bridge/jobs/job_request_id.h"

#include "bridge/uuid.h"
#include "gtest/gtest.h"

namespace hive {
namespace {

constexpr absl::string_view kJob = "5b0a4a8e-2f31-4c6b-9d0e-7f3c2a1b0c9d";
constexpr absl::string_view kDevice = "d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b";

TEST(JobRequestId, IsAVersion8UuidInCanonicalForm) {
  const std::string id = JobRequestId(kJob, kDevice);
  EXPECT_TRUE(IsUuid(id)) << id;
  EXPECT_EQ(id, CanonicalUuid(id));
  EXPECT_EQ(id[14], '8') << id;
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
}

TEST(JobRequestId, IsTheSameForTheSameJobAndDeviceWhateverTheirCase) {
  EXPECT_EQ(JobRequestId(kJob, kDevice), JobRequestId(kJob, kDevice));
  EXPECT_EQ(JobRequestId(kJob, kDevice), JobRequestId("5B0A4A8E-2F31-4C6B-9D0E-7F3C2A1B0C9D", kDevice));
}

TEST(JobRequestId, DiffersForAnotherJobOrDeviceOrTheirSwap) {
  const std::string id = JobRequestId(kJob, kDevice);
  EXPECT_NE(id, JobRequestId("5b0a4a8e-2f31-4c6b-9d0e-7f3c2a1b0c9e", kDevice));
  EXPECT_NE(id, JobRequestId(kJob, "d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3c"));
  EXPECT_NE(id, JobRequestId(kDevice, kJob));
}

// Pinned: every replica and every release derives the same id, or a job
// taken over by a replica of another version would send twice. The value
// is what Python's hashlib gives for the same input, computed by hand.
TEST(JobRequestId, IsStableAcrossReleases) {
  EXPECT_EQ(JobRequestId(kJob, kDevice), "e6223adc-c0d3-83ce-9c38-5b5e98400137");
}

}  // namespace
}  // namespace hive

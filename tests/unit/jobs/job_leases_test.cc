#include "bridge/jobs/job_leases.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hive {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

TEST(JobLeases, TheStarterHoldsTermOne) {
  JobLeases leases;
  leases.Started("job", "a");
  ASSERT_TRUE(leases.Of("job").has_value());
  EXPECT_EQ(leases.Of("job")->holder, "a");
  EXPECT_EQ(leases.Of("job")->term, 1u);
  EXPECT_TRUE(leases.Current("job", 1));
  EXPECT_EQ(leases.unfinished(), 1u);
}

TEST(JobLeases, AStartAppliedTwiceKeepsTheFirstHolder) {
  JobLeases leases;
  leases.Started("job", "a");
  leases.Started("job", "b");
  EXPECT_EQ(leases.Of("job")->holder, "a");
}

TEST(JobLeases, OfTwoReplicasAskingForTheNextTermTheFirstWinsAndTheOtherLoses) {
  JobLeases leases;
  leases.Started("job", "a");
  EXPECT_TRUE(leases.Take("job", "b", 2));
  EXPECT_FALSE(leases.Take("job", "c", 2));
  EXPECT_EQ(leases.Of("job")->holder, "b");
  EXPECT_EQ(leases.Of("job")->term, 2u);
}

TEST(JobLeases, ATermThatSkipsOrRepeatsIsRefused) {
  JobLeases leases;
  leases.Started("job", "a");
  EXPECT_FALSE(leases.Take("job", "b", 3));
  EXPECT_FALSE(leases.Take("job", "b", 1));
  EXPECT_FALSE(leases.Take("unknown", "b", 2));
  EXPECT_EQ(leases.Of("job")->holder, "a");
}

TEST(JobLeases, TheFormerHoldersWritesNoLongerCount) {
  JobLeases leases;
  leases.Started("job", "a");
  ASSERT_TRUE(leases.Take("job", "b", 2));
  EXPECT_FALSE(leases.Current("job", 1));
  EXPECT_TRUE(leases.Current("job", 2));
}

TEST(JobLeases, AnEndedJobHasNoLeaseAndCannotBeTaken) {
  JobLeases leases;
  leases.Started("job", "a");
  leases.Ended("job");
  EXPECT_FALSE(leases.Of("job").has_value());
  EXPECT_FALSE(leases.Take("job", "b", 2));
  EXPECT_FALSE(leases.Current("job", 1));
  EXPECT_EQ(leases.unfinished(), 0u);
}

TEST(JobLeases, OrphanedAreTheJobsOfGoneReplicasWithTheTermToAskForNeverOurOwn) {
  JobLeases leases;
  leases.Started("of-gone", "gone");
  leases.Started("of-alive", "alive");
  leases.Started("ours", "self");
  ASSERT_TRUE(leases.Take("of-gone", "gone", 2));
  auto alive = [](const std::string& replica) { return replica == "alive"; };
  EXPECT_THAT(leases.Orphaned("self", alive), ElementsAre(Pair("of-gone", 3u)));
  EXPECT_THAT(leases.HeldBy("self"), ElementsAre("ours"));
  leases.Ended("of-gone");
  EXPECT_THAT(leases.Orphaned("self", alive), IsEmpty());
}

}  // namespace
}  // namespace hive

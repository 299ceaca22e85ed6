#include "bridge/jobs/wave_plan.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hive {
namespace {

using ::testing::HasSubstr;

google::protobuf::RepeatedPtrField<hive::bridge::v1::JobWave> Waves(std::initializer_list<double> percents) {
  google::protobuf::RepeatedPtrField<hive::bridge::v1::JobWave> waves;
  for (double percent : percents) waves.Add()->set_percent(percent);
  return waves;
}

TEST(WavePlan, NoWavesIsOneWaveOfEverything) {
  absl::StatusOr<WavePlan> plan = WavePlan::Make({}, 7);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->waves(), 1u);
  EXPECT_EQ(plan->end_of(0), 7u);
  EXPECT_EQ(plan->wave_of(6), 0u);
}

TEST(WavePlan, EndsAreCumulativeAndRoundedUp) {
  absl::StatusOr<WavePlan> plan = WavePlan::Make(Waves({1, 10, 100}), 1000);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->end_of(0), 10u);
  EXPECT_EQ(plan->end_of(1), 100u);
  EXPECT_EQ(plan->end_of(2), 1000u);
  EXPECT_EQ(plan->wave_of(0), 0u);
  EXPECT_EQ(plan->wave_of(9), 0u);
  EXPECT_EQ(plan->wave_of(10), 1u);
  EXPECT_EQ(plan->wave_of(99), 1u);
  EXPECT_EQ(plan->wave_of(100), 2u);
  EXPECT_EQ(plan->wave_of(999), 2u);
}

TEST(WavePlan, ASmallSelectionStillSendsTheFirstWaveOneDevice) {
  absl::StatusOr<WavePlan> plan = WavePlan::Make(Waves({1, 10, 100}), 50);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->end_of(0), 1u);
  EXPECT_EQ(plan->end_of(1), 5u);
  EXPECT_EQ(plan->end_of(2), 50u);
}

TEST(WavePlan, TheLastWaveTakesDevicesThatJoin) {
  absl::StatusOr<WavePlan> plan = WavePlan::Make(Waves({50, 100}), 10);
  ASSERT_TRUE(plan.ok()) << plan.status();
  plan->Grow(14);
  EXPECT_EQ(plan->end_of(0), 5u);
  EXPECT_EQ(plan->end_of(1), 14u);
  EXPECT_EQ(plan->wave_of(13), 1u);
}

TEST(WavePlan, RefusesWavesThatDoNotAscendTo100) {
  EXPECT_THAT(WavePlan::Make(Waves({10, 10, 100}), 5).status().message(), HasSubstr("rollout.waves[1].percent"));
  EXPECT_THAT(WavePlan::Make(Waves({0, 100}), 5).status().message(), HasSubstr("rollout.waves[0].percent"));
  EXPECT_THAT(WavePlan::Make(Waves({10, 50}), 5).status().message(), HasSubstr("must be 100"));
  EXPECT_THAT(WavePlan::Make(Waves({101}), 5).status().message(), HasSubstr("at most 100"));
  EXPECT_THAT(WavePlan::Make(Waves({std::nan("")}), 5).status().message(), HasSubstr("rollout.waves[0]"));
}

TEST(WavePlan, RefusesANegativePause) {
  google::protobuf::RepeatedPtrField<hive::bridge::v1::JobWave> waves = Waves({50, 100});
  waves[0].mutable_pause_after()->set_seconds(-1);
  absl::StatusOr<WavePlan> plan = WavePlan::Make(waves, 5);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(plan.status().message(), HasSubstr("rollout.waves[0].pause_after"));
}

}  // namespace
}  // namespace hive

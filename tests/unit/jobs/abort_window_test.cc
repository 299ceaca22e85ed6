#include "bridge/jobs/abort_window.h"

#include "gtest/gtest.h"

namespace hive {
namespace {

TEST(AbortWindow, NeverFiresBeforeTheWindowIsFull) {
  AbortWindow window(4, 0.25);
  for (int i = 0; i < 3; ++i) window.Record(/*failed=*/true);
  EXPECT_FALSE(window.Fires());
  window.Record(true);
  EXPECT_TRUE(window.Fires());
}

TEST(AbortWindow, FiresOnlyAboveTheRatio) {
  AbortWindow window(4, 0.25);
  window.Record(true);
  for (int i = 0; i < 3; ++i) window.Record(false);
  EXPECT_FALSE(window.Fires()) << "1 of 4 is not over 25%";
  window.Record(true);  // the first failure leaves; still 1 of 4
  EXPECT_FALSE(window.Fires());
  window.Record(true);  // 2 of 4
  EXPECT_TRUE(window.Fires());
  EXPECT_EQ(window.Describe(), "2 of the last 4 devices failed (50%, over 25%)");
}

TEST(AbortWindow, ForgetsFailuresThatLeaveTheWindow) {
  AbortWindow window(3, 0.5);
  window.Record(true);
  window.Record(true);
  window.Record(false);
  EXPECT_TRUE(window.Fires());
  window.Record(false);
  window.Record(false);
  EXPECT_FALSE(window.Fires());
}

}  // namespace
}  // namespace hive

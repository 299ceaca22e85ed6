#include "bridge/bus/buffer_budget.h"

#include "gtest/gtest.h"

namespace hive {
namespace {

TEST(BufferBudget, RefusesAnEventThatWouldPassTheByteBoundAndHoldsNothingForIt) {
  BufferBudget budget(100, 1000);
  EXPECT_TRUE(budget.TryReserve(600));
  EXPECT_FALSE(budget.TryReserve(401));
  EXPECT_EQ(budget.events(), 1u);
  EXPECT_EQ(budget.bytes(), 600u);
  EXPECT_TRUE(budget.TryReserve(400));
  EXPECT_EQ(budget.bytes(), 1000u);
}

TEST(BufferBudget, RefusesAnEventThatWouldPassTheCountBound) {
  BufferBudget budget(2, 1 << 20);
  EXPECT_TRUE(budget.TryReserve(10));
  EXPECT_TRUE(budget.TryReserve(10));
  EXPECT_FALSE(budget.TryReserve(10));
  EXPECT_EQ(budget.events(), 2u);
}

TEST(BufferBudget, ReleasedEventsMakeRoomAgain) {
  BufferBudget budget(1, 100);
  EXPECT_TRUE(budget.TryReserve(100));
  EXPECT_FALSE(budget.TryReserve(1));
  budget.Release(100);
  EXPECT_EQ(budget.events(), 0u);
  EXPECT_EQ(budget.bytes(), 0u);
  EXPECT_TRUE(budget.TryReserve(50));
}

}  // namespace
}  // namespace hive

#include "bridge/bus/work_queue.h"

#include <poll.h>

#include <deque>
#include <memory>

#include "bridge/bus/recent_ids.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hive {
namespace {

using ::testing::ElementsAre;

bool Woken(const Wakeup& wakeup) {
  pollfd fd{wakeup.fd(), POLLIN, 0};
  return poll(&fd, 1, 0) == 1;
}

TEST(WorkQueue, FirstItemWakesTheThreadWhichTakesThemAllInOrder) {
  auto wakeup = std::make_shared<Wakeup>();
  WorkQueue<int> queue(wakeup);
  EXPECT_FALSE(Woken(*wakeup));
  EXPECT_TRUE(queue.Push(1));
  EXPECT_TRUE(queue.Push(2));
  EXPECT_TRUE(Woken(*wakeup));
  wakeup->Clear();
  EXPECT_FALSE(Woken(*wakeup));
  EXPECT_THAT(queue.TakeAll(), ElementsAre(1, 2));
  EXPECT_TRUE(queue.TakeAll().empty());
  EXPECT_TRUE(queue.Push(3));
  EXPECT_TRUE(Woken(*wakeup));
}

TEST(WorkQueue, ClosedQueueRefusesItems) {
  WorkQueue<int> queue(std::make_shared<Wakeup>());
  queue.Close();
  EXPECT_FALSE(queue.Push(1));
  EXPECT_TRUE(queue.TakeAll().empty());
}

TEST(RecentIds, SeenIdIsRefusedUntilItIsForgottenPastCapacity) {
  RecentIds recent(2);
  EXPECT_TRUE(recent.Insert("a"));
  EXPECT_FALSE(recent.Insert("a"));
  EXPECT_TRUE(recent.Insert("b"));
  EXPECT_TRUE(recent.Insert("c"));  // forgets "a"
  EXPECT_TRUE(recent.Insert("a"));
  EXPECT_FALSE(recent.Insert("c"));
}

}  // namespace
}  // namespace hive

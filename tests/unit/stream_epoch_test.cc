#include "bridge/stream_epoch.h"

#include "gtest/gtest.h"

namespace hive {
namespace {

TEST(StreamEpoch, EveryEpochTheBridgeMakesIsWellFormed) {
  EXPECT_TRUE(IsWellFormedEpoch(NewLocalEpoch()));
  EXPECT_TRUE(IsWellFormedEpoch(ClusterEpoch("/", "hive.events.stream")));
  EXPECT_TRUE(IsWellFormedEpoch(ClusterEpoch("fleet-eu", "hive.events.stream")));
}

TEST(StreamEpoch, EachStartHasItsOwnLocalEpoch) { EXPECT_NE(NewLocalEpoch(), NewLocalEpoch()); }

TEST(StreamEpoch, RefusesWhatTheBridgeNeverIssues) {
  for (const char* text :
       {"", "<epoch>", "epoch", "42", "amqp-stream:", "amqp-stream:/", "amqp-stream:vhost", "amqp-stream:/stream/",
        "d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3", "stream:/hive.events.stream"}) {
    EXPECT_FALSE(IsWellFormedEpoch(text)) << text;
  }
}

}  // namespace
}  // namespace hive

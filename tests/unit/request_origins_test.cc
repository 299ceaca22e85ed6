// tests/unit/request_origins_test.cc
#include "bridge/request_origins.h"

#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace hive {
namespace {

TEST(RequestOrigins, OnePairIsSharedUntilItsLastUseIsReleased) {
  RequestOrigins origins;
  const RequestOrigin* a = origins.Acquire("device-1", "account-1");
  const RequestOrigin* b = origins.Acquire("device-1", "account-1");
  const RequestOrigin* other_account = origins.Acquire("device-1", "");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, other_account);
  EXPECT_EQ(a->device_id, "device-1");
  EXPECT_EQ(a->account_id, "account-1");
  EXPECT_EQ(origins.size(), 2u);

  origins.Release(a);
  EXPECT_EQ(origins.size(), 2u);
  EXPECT_EQ(b->device_id, "device-1") << "still used once";
  origins.Release(b);
  origins.Release(other_account);
  EXPECT_EQ(origins.size(), 0u);
}

TEST(RequestOrigins, ThreadsAcquiringAndReleasingTheSamePairsLeaveNothingBehind) {
  RequestOrigins origins;
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&origins] {
      for (int i = 0; i < 2000; ++i) {
        const RequestOrigin* origin = origins.Acquire(absl::StrCat("device-", i % 10), "account");
        EXPECT_EQ(origin->device_id, absl::StrCat("device-", i % 10));
        origins.Release(origin);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(origins.size(), 0u);
}

}  // namespace
}  // namespace hive

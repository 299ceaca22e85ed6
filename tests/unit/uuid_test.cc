#include "bridge/uuid.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace hive {
namespace {

TEST(Uuid, AcceptsCanonicalFormInEitherCase) {
  EXPECT_TRUE(IsUuid("6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"));
  EXPECT_TRUE(IsUuid("6F1C2A3B-4D5E-4F60-8A7B-9C0D1E2F3A4B"));
  EXPECT_TRUE(IsUuid("00000000-0000-0000-0000-000000000000"));
}

TEST(Uuid, RejectsOtherShapes) {
  for (const char* text : {"", "6f1c2a3b4d5e4f608a7b9c0d1e2f3a4b", "{6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b}",
                           "urn:uuid:6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b", "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4",
                           "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4bb", "6f1c2a3b-4d5e-4f60-8a7b_9c0d1e2f3a4b",
                           "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4g", "6f1c2a3b4-d5e-4f60-8a7b-9c0d1e2f3a4b",
                           " 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4"}) {
    EXPECT_FALSE(IsUuid(text)) << text;
  }
}

TEST(Uuid, RejectsEmbeddedNul) {
  std::string text = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
  text[20] = '\0';
  EXPECT_FALSE(IsUuid(text));
}

TEST(Uuid, NewUuidIsLowercaseVersion4) {
  for (int i = 0; i < 100; ++i) {
    const std::string id = NewUuid();
    ASSERT_TRUE(IsUuid(id)) << id;
    EXPECT_EQ(id[14], '4') << id;                                          // version
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // RFC 4122 variant
    for (char c : id) EXPECT_FALSE(c >= 'A' && c <= 'Z') << id;
  }
}

TEST(Uuid, NewUuidsAreDistinctAcrossThreads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 1000;
  absl::Mutex mu;
  absl::flat_hash_set<std::string> seen;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::vector<std::string> mine;
      for (int i = 0; i < kPerThread; ++i) mine.push_back(NewUuid());
      absl::MutexLock lock(&mu);
      seen.insert(mine.begin(), mine.end());
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(seen.size(), size_t{kThreads * kPerThread});
}

TEST(Uuid, PacksACanonicalLowercaseUuidIntoSixteenBytesAndSpellsItBack) {
  const std::string id = NewUuid();
  unsigned char bytes[16];
  ASSERT_TRUE(PackCanonicalUuid(id, bytes));
  char text[36];
  SpellUuid(bytes, text);
  EXPECT_EQ(std::string(text, 36), id);
  EXPECT_FALSE(PackCanonicalUuid("C3D4E5F6-0718-4293-A4B5-C6D7E8F90A1B", bytes)) << "uppercase would not spell back";
  EXPECT_FALSE(PackCanonicalUuid("c3d4e5f60-718-4293-a4b5-c6d7e8f90a1b", bytes));
  EXPECT_FALSE(PackCanonicalUuid("req-1", bytes));
}

}  // namespace
}  // namespace hive

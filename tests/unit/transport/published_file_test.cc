// PublishedFile: readers opening its path see the last published contents
// whole, and every version is dated a second after the one before (gRPC's
// file watcher compares st_mtime seconds).
#include "transport/published_file.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace hive::transport {
namespace {

std::string ReadPath(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

time_t MtimeOf(const std::string& path) {
  struct stat info {};
  EXPECT_EQ(stat(path.c_str(), &info), 0) << path;
  return info.st_mtime;
}

TEST(PublishedFile, ReadersSeeTheLastPublishedContentsAtTheSamePath) {
  absl::StatusOr<std::unique_ptr<PublishedFile>> file = PublishedFile::Create("test");
  ASSERT_TRUE(file.ok()) << file.status();
  const std::string path = (*file)->path();

  ASSERT_TRUE((*file)->Publish("first version\n").ok());
  EXPECT_EQ(ReadPath(path), "first version\n");
  ASSERT_TRUE((*file)->Publish("second, longer version\n").ok());
  EXPECT_EQ(ReadPath(path), "second, longer version\n");
  ASSERT_TRUE((*file)->Publish("3\n").ok());
  EXPECT_EQ(ReadPath(path), "3\n");
  EXPECT_EQ((*file)->path(), path);
}

TEST(PublishedFile, EachVersionIsDatedAWholeSecondAfterThePrevious) {
  absl::StatusOr<std::unique_ptr<PublishedFile>> file = PublishedFile::Create("test");
  ASSERT_TRUE(file.ok()) << file.status();

  ASSERT_TRUE((*file)->Publish("a").ok());
  const time_t first = MtimeOf((*file)->path());
  ASSERT_TRUE((*file)->Publish("b").ok());
  const time_t second = MtimeOf((*file)->path());
  ASSERT_TRUE((*file)->Publish("c").ok());

  EXPECT_GE(second, first + 1);
  EXPECT_GE(MtimeOf((*file)->path()), second + 1);
}

TEST(PublishedFile, AReaderThatOpenedAVersionKeepsReadingIt) {
  absl::StatusOr<std::unique_ptr<PublishedFile>> file = PublishedFile::Create("test");
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->Publish("old contents").ok());
  std::ifstream reader((*file)->path(), std::ios::binary);

  ASSERT_TRUE((*file)->Publish("new contents").ok());

  std::ostringstream seen;
  seen << reader.rdbuf();
  EXPECT_EQ(seen.str(), "old contents");
}

}  // namespace
}  // namespace hive::transport

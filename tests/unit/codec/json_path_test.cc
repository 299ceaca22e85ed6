#include "bridge/codec/json_path.h"

#include <string>
#include <utility>

#include "bridge/codec/struct_json.h"
#include "gtest/gtest.h"

namespace hive::codec {
namespace {

TEST(JsonPath, RendersTheRootAsRoot) {
  JsonPath path;
  EXPECT_EQ(path.ToString(), "(root)");
  EXPECT_EQ(path.depth(), 0u);
  EXPECT_EQ(path.PointerFrom(0), "");
}

TEST(JsonPath, RendersKeysWithDots) {
  JsonPath path;
  auto payload = path.Key("payload");
  auto links = path.Key("links");
  auto name = path.Key("default");
  EXPECT_EQ(path.ToString(), "payload.links.default");
  EXPECT_EQ(path.depth(), 3u);
}

TEST(JsonPath, RendersIndexesInBrackets) {
  JsonPath path;
  auto instances = path.Key("instances");
  auto second = path.Index(2);
  auto state = path.Key("state");
  EXPECT_EQ(path.ToString(), "instances[2].state");
}

TEST(JsonPath, RendersABatchMemberWithoutALeadingDot) {
  JsonPath path;
  auto member = path.Index(2);
  EXPECT_EQ(path.ToString(), "[2]");
  auto type = path.Key("type");
  EXPECT_EQ(path.ToString(), "[2].type");
}

TEST(JsonPath, PopsASegmentWhenItsScopeEnds) {
  JsonPath path;
  auto payload = path.Key("payload");
  {
    auto application = path.Key("application");
    auto moved = std::move(application);  // a moved-from scope pops nothing
    EXPECT_EQ(path.ToString(), "payload.application");
  }
  EXPECT_EQ(path.ToString(), "payload");
  EXPECT_EQ(path.depth(), 1u);
}

TEST(JsonPath, ErrorsAreInvalidArgumentNamingThePath) {
  JsonPath path;
  auto payload = path.Key("payload");
  auto application = path.Key("application");
  auto version = path.Key("version");
  absl::Status error = path.Error("expected string, got number 3");
  EXPECT_EQ(error.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(error.message(), "payload.application.version: expected string, got number 3");
  EXPECT_EQ(JsonPath().Error("duplicate key \"a\"").message(), "(root): duplicate key \"a\"");
}

TEST(JsonPath, PointerIsRelativeToTheGivenDepth) {
  JsonPath path;
  auto batch = path.Index(0);
  const size_t event = path.depth();
  auto keys = path.Key("storage_apikeys");
  auto s3 = path.Key("s3");
  auto list = path.Index(10);
  EXPECT_EQ(path.PointerFrom(event), "/storage_apikeys/s3/10");
  EXPECT_EQ(path.PointerFrom(0), "/0/storage_apikeys/s3/10");
  EXPECT_EQ(path.PointerFrom(path.depth()), "");
}

TEST(JsonPath, PointerEscapesTildeAndSlashPerRfc6901) {
  JsonPath path;
  auto a = path.Key("a/b~c");
  auto b = path.Key("~1");
  auto c = path.Key("");
  auto d = path.Key("x y.z");
  EXPECT_EQ(path.PointerFrom(0), "/a~1b~0c/~01//x y.z");
}

TEST(JsonPath, AppendPointerKeyEscapesLikeThePath) {
  std::string pointer = "/links";
  const size_t old_size = AppendPointerKey(pointer, "a/b~c");
  EXPECT_EQ(pointer, "/links/a~1b~0c");
  EXPECT_EQ(old_size, 6u);
  pointer.resize(old_size);
  AppendPointerKey(pointer, "~1");
  EXPECT_EQ(pointer, "/links/~01");
}

}  // namespace
}  // namespace hive::codec

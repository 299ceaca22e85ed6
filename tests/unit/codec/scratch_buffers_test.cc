// ScratchDocument and JsonText keep their working memory in buffers of their
// own until it outgrows them. These tests drive both well past their buffers
// (and the writer past its 32 preallocated levels) and check that what they
// read or write is exactly what the plain RapidJSON types give.
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/codec/json_document.h"
#include "bridge/codec/json_writer.h"
#include "gtest/gtest.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace hive::codec {
namespace {

// A batch of `members` objects, each with a long string, nested `depth`
// levels deep at its end.
std::string LargeFrame(int members, size_t string_bytes, int depth) {
  std::string frame = "[";
  for (int i = 0; i < members; ++i) {
    absl::StrAppend(&frame, i == 0 ? "" : ",", R"({"type":"device-state","n":)", i, R"(,"state":")",
                    std::string(string_bytes, static_cast<char>('a' + i % 26)), R"(","x":-1.5e3})");
  }
  frame += ",";
  for (int i = 0; i < depth; ++i) frame += R"({"k":[)";
  frame += "true";
  for (int i = 0; i < depth; ++i) frame += "]}";
  frame += "]";
  return frame;
}

std::string Written(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

TEST(ScratchDocument, ReadsAFrameFarLargerThanItsBuffersAsADocumentDoes) {
  // 256 members of 2 KiB strings (half a MiB) and 15 nested levels: the
  // values, the parse stack and the reader's stack all outgrow their buffers.
  const std::string frame = LargeFrame(256, 2048, 15);
  const ParseLimits limits{.max_depth = 32};
  rapidjson::Document plain;
  ASSERT_TRUE(ParseJson(frame, limits, plain).ok());
  ScratchDocument scratch;
  ASSERT_TRUE(ParseJson(frame, limits, scratch).ok());
  EXPECT_TRUE(scratch == plain);
  EXPECT_EQ(Written(scratch), Written(plain));
  EXPECT_EQ(scratch.Size(), 257u);
}

TEST(ScratchDocument, RefusesWhatADocumentRefusesWithTheSameMessage) {
  const ParseLimits limits{.max_depth = 4};
  for (const std::string& text :
       {std::string(R"({"a":[1,2,)"), std::string(R"([[[[[1]]]]])"), std::string(R"({"a":1} x)"),
        std::string(R"("\udc00")"), std::string("1e999"), LargeFrame(40, 100, 2) + "]"}) {
    rapidjson::Document plain;
    ScratchDocument scratch;
    const absl::Status from_plain = ParseJson(text, limits, plain);
    const absl::Status from_scratch = ParseJson(text, limits, scratch);
    EXPECT_FALSE(from_scratch.ok()) << text.substr(0, 80);
    EXPECT_EQ(from_scratch, from_plain) << text.substr(0, 80);
  }
}

TEST(JsonText, WritesPastItsLevelBufferAndExpectedSizeAsAStringBufferWriterDoes) {
  constexpr int kDepth = 100;  // the level buffer holds 32
  JsonText json(/*expected_bytes=*/8);
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> plain(buffer);
  auto both = [&](auto write) {
    write(json.writer());
    write(plain);
  };
  for (int i = 0; i < kDepth; ++i) {
    both([i](auto& writer) {
      writer.StartObject();
      writer.Key("level");
      writer.Int(i);
      writer.Key("text \"quoted\"\n");
      writer.String("é\x01");
      writer.Key("next");
      writer.StartArray();
    });
  }
  for (int i = 0; i < kDepth; ++i) {
    both([](auto& writer) {
      writer.EndArray();
      writer.EndObject();
    });
  }
  ASSERT_TRUE(json.writer().IsComplete());
  EXPECT_EQ(std::move(json).Take(), std::string(buffer.GetString(), buffer.GetSize()));
}

}  // namespace
}  // namespace hive::codec

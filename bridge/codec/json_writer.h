// bridge/codec/json_writer.h
// The JSON writer every encoder shares, and the one rule for writing a
// double: integral values within 64-bit range are written as integers ("5",
// not "5.0"), so numbers a device sent as integers come back as integers.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include "absl/strings/string_view.h"

#include "rapidjson/allocators.h"
#include "rapidjson/writer.h"

namespace hive::codec {

// A RapidJSON output stream appending to the string an encoder returns: the
// text is written once, with no intermediate buffer to copy it out of.
class StringOutput {
 public:
  using Ch = char;
  explicit StringOutput(size_t expected_bytes) { text_.reserve(expected_bytes); }
  void Put(char c) { text_.push_back(c); }
  void Flush() {}
  std::string Take() { return std::move(text_); }

 private:
  std::string text_;
};

using JsonWriter =
    rapidjson::Writer<StringOutput, rapidjson::UTF8<>, rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>>;

// One JSON text being written. The writer's nesting stack lives in a buffer
// inside this object (it outgrows it only past 32 levels), so encoding an
// ordinary message allocates just the returned string, once when
// `expected_bytes` is enough.
//
//   JsonText json(512);
//   json.writer().StartObject(); ... json.writer().EndObject();
//   return std::move(json).Take();
class JsonText {
 public:
  // level_buffer_ is raw storage the pool hands out before anything reads it.
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): see above
  explicit JsonText(size_t expected_bytes = 256) : out_(expected_bytes) {}
  JsonText(const JsonText&) = delete;
  JsonText& operator=(const JsonText&) = delete;

  JsonWriter& writer() { return writer_; }
  std::string Take() && { return out_.Take(); }

 private:
  // RapidJSON's default nesting stack (32 levels of 16 bytes) and the pool's
  // chunk header.
  static constexpr size_t kLevelBytes = 640;
  alignas(std::max_align_t) char level_buffer_[kLevelBytes];
  rapidjson::MemoryPoolAllocator<> levels_{level_buffer_, kLevelBytes};
  StringOutput out_;
  JsonWriter writer_{out_, &levels_};
};

inline void WriteString(JsonWriter& writer, absl::string_view text) {
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

inline void WriteKey(JsonWriter& writer, absl::string_view key) {
  writer.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}

inline void WriteNumber(JsonWriter& writer, double value) {
  constexpr double kTwoTo63 = 9223372036854775808.0;
  if (std::trunc(value) == value && value >= -kTwoTo63 && value < kTwoTo63) {
    writer.Int64(static_cast<int64_t>(value));
  } else if (std::trunc(value) == value && value >= 0 && value < 2 * kTwoTo63) {
    writer.Uint64(static_cast<uint64_t>(value));
  } else {
    writer.Double(value);
  }
}

}  // namespace hive::codec

// bridge/codec/json_writer.h
// The JSON writer every encoder shares, and the one rule for writing a
// double: integral values within 64-bit range are written as integers ("5",
// not "5.0"), so numbers a device sent as integers come back as integers.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace hive::codec {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

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

inline std::string ToString(const rapidjson::StringBuffer& buffer) {
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace hive::codec

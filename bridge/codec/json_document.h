// bridge/codec/json_document.h
// Reading untrusted JSON text into a RapidJSON DOM with the limits a device
// frame needs: valid UTF-8 only, bounded nesting depth, nothing after the
// value, integers read exactly (int64/uint64) and others at full precision.
//
//   rapidjson::Document doc;
//   absl::Status ok = ParseJson(frame, ParseLimits{.max_depth = 32}, doc);
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "rapidjson/document.h"

namespace hive::codec {

struct ParseLimits {
  // Objects and arrays nested deeper than this are refused (stack safety).
  size_t max_depth = 32;
};

// Parses `text` into `doc`. On failure returns INVALID_ARGUMENT naming the
// problem and the byte offset, e.g. "invalid JSON at byte 7: missing a comma
// or '}' after an object member".
absl::Status ParseJson(absl::string_view text, const ParseLimits& limits, rapidjson::Document& doc);

// A short description of a value for error messages: `number 3`,
// `string "abc"` (truncated), `object`, `array`, `null`, `true`.
std::string DescribeJson(const rapidjson::Value& value);

// The first key that occurs twice in `object` (which may be ""); nullopt
// when all are distinct.
std::optional<absl::string_view> FindDuplicateKey(const rapidjson::Value& object);

// The value of `object`'s member `key`, or null when it has none.
inline const rapidjson::Value* FindMember(const rapidjson::Value& object, absl::string_view key) {
  auto it = object.FindMember(rapidjson::StringRef(key.data(), key.size()));
  return it == object.MemberEnd() ? nullptr : &it->value;
}

inline absl::string_view ViewOf(const rapidjson::Value& string_value) {
  return {string_value.GetString(), string_value.GetStringLength()};
}

}  // namespace hive::codec

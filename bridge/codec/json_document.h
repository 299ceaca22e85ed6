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

namespace json_internal {

// The buffers of a ScratchDocument, a base class of it so that they exist
// before the document that is handed their pools.
// The buffers are raw storage the pools hand out before anything reads it:
// zeroing 6 KiB per frame would cost more than the parse of a small one.
// NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): see above
struct ScratchPools {
  // Holds a device-state event's values several times over; a 50-message
  // batch spills into heap chunks.
  static constexpr size_t kValueBytes = 4096;
  // The parse stack: RapidJSON's default initial capacity and one growth.
  static constexpr size_t kStackCapacity = 1024;
  static constexpr size_t kStackBytes = 2048;

  ScratchPools() = default;  // NOLINT(cppcoreguidelines-pro-type-member-init): raw storage
  ScratchPools(const ScratchPools&) = delete;
  ScratchPools& operator=(const ScratchPools&) = delete;

  alignas(std::max_align_t) char value_buffer[kValueBytes];
  alignas(std::max_align_t) char stack_buffer[kStackBytes];
  rapidjson::MemoryPoolAllocator<> value_pool{value_buffer, kValueBytes};
  rapidjson::MemoryPoolAllocator<> stack_pool{stack_buffer, kStackBytes};
};

}  // namespace json_internal

// A document for reading one frame on the hot path: its values and its parse
// stack live in buffers inside the object until they outgrow them (then in
// heap chunks, as any Document's), so reading a frame of ordinary size
// allocates nothing. Its values are rapidjson::Value, as any Document's. It
// is 6 KiB: put it on the stack of the function that reads the frame.
class ScratchDocument : private json_internal::ScratchPools,
                        public rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>,
                                                          rapidjson::MemoryPoolAllocator<>> {
 public:
  ScratchDocument() : GenericDocument(&value_pool, kStackCapacity, &stack_pool) {}
};

// Parses `text` into `doc`. On failure returns INVALID_ARGUMENT naming the
// problem and the byte offset, e.g. "invalid JSON at byte 7: missing a comma
// or '}' after an object member".
absl::Status ParseJson(absl::string_view text, const ParseLimits& limits, rapidjson::Document& doc);
absl::Status ParseJson(absl::string_view text, const ParseLimits& limits, ScratchDocument& doc);

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

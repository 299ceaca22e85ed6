// fuzz/fuzz_support.h
// What the fuzz targets share: a check that aborts with a readable report (so
// libFuzzer keeps the input as a crash), reading the first input byte as
// flags, protobuf equality with a diff, and "same JSON value" for the codec's
// lossless promise (docs/architecture.md#lossless-relay).
//
//   FuzzInput in(data, size);
//   codec::Dialect dialect = (in.flags() & 1) != 0 ? codec::Dialect::kCompact : codec::Dialect::kStandard;
//   const std::string diff = ProtoDiff(first, second);
//   HIVE_FUZZ_CHECK(diff.empty(), "re-decoding changed the event\n", diff);
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "bridge/codec/json_document.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/message_differencer.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace hive::fuzz {

// The identity every auth and session fuzzer uses: tokens are HS256 with
// this secret, and the fake clock starts at kClockStart (FakeClock's
// default). The hand-written seeds in fuzz/seeds/ were minted with them
// (fuzz/README.md says how to mint more).
inline constexpr absl::string_view kSecret = "hivebridge-fuzz-secret-0123456789abcdef";
inline constexpr absl::string_view kDevice = "d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b";
inline constexpr absl::string_view kAccount = "8813b625-e219-4390-9a7b-fe0e22c9e50b";
inline constexpr int64_t kClockStart = 1'700'000'000;

// Prints the failed condition and the report, then aborts: libFuzzer (or the
// reproducer run) records the input that got here.
#define HIVE_FUZZ_CHECK(condition, ...)                                                              \
  do {                                                                                               \
    if (!(condition)) ::hive::fuzz::Fail(__FILE__, __LINE__, #condition, absl::StrCat(__VA_ARGS__)); \
  } while (false)

[[noreturn]] inline void Fail(const char* file, int line, const char* condition, const std::string& report) {
  std::fprintf(stderr, "\n==== fuzz check failed at %s:%d: %s\n%s\n", file, line, condition, report.c_str());
  std::fflush(stderr);
  std::abort();
}

// The input: a flags byte (0 when the input is empty), then the text.
class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size)
      : flags_(size > 0 ? data[0] : 0),
        text_(size > 0 ? reinterpret_cast<const char*>(data) + 1 : "", size > 0 ? size - 1 : 0) {}

  uint8_t flags() const { return flags_; }
  absl::string_view text() const { return text_; }

 private:
  uint8_t flags_;
  absl::string_view text_;
};

// Limits for reading back what the codec wrote, which may nest as deep as
// what it read.
inline codec::ParseLimits DeepLimits() {
  codec::ParseLimits limits;
  limits.max_depth = 1000;
  return limits;
}

// "" when equal; the differences otherwise.
inline std::string ProtoDiff(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  std::string diff;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  if (differencer.Compare(a, b)) return "";
  return diff.empty() ? "(messages differ)" : diff;
}

// The JSON text of a value, for reports.
inline std::string JsonText(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// Strict UTF-8 (RFC 3629): no overlong forms, surrogates or code points
// beyond U+10FFFF. What a WebSocket text frame must hold (RFC 6455 §8.1).
inline bool IsValidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = [&](size_t at) { return static_cast<unsigned char>(text[at]); };
    const unsigned char lead = byte(i);
    size_t length = 0;
    uint32_t min = 0;
    uint32_t code = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2, min = 0x80, code = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3, min = 0x800, code = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4, min = 0x10000, code = lead & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      if ((byte(i + k) & 0xC0) != 0x80) return false;
      code = (code << 6) | (byte(i + k) & 0x3F);
    }
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    i += length;
  }
  return true;
}

// JSON value equality as the codec promises it: member order is free, and a
// number is its value however it is spelled (1e2 == 100 == 100.0). Integer
// literals are compared exactly, so a 64-bit integer rounded through a double
// differs from its literal.
//
// With `empty_may_appear`, an object of `b` may also hold members `a` lacks
// when they are [] or {}: the encoder writes repeated and map fields even when
// empty, since proto3 cannot tell an absent one from an empty one.
inline bool SameJsonValue(const rapidjson::Value& a, const rapidjson::Value& b, bool empty_may_appear = false) {
  if (a.IsNumber() && b.IsNumber()) {
    const bool a_integer = a.IsInt64() || a.IsUint64();
    const bool b_integer = b.IsInt64() || b.IsUint64();
    if (a_integer && b_integer) {
      if (a.IsInt64() && b.IsInt64()) return a.GetInt64() == b.GetInt64();
      if (a.IsUint64() && b.IsUint64()) return a.GetUint64() == b.GetUint64();
      return false;  // one is negative, the other beyond int64
    }
    if (a_integer || b_integer) {
      // An integer literal against a double: equal only when the double is
      // that very integer (long double holds every 64-bit integer exactly).
      const rapidjson::Value& integer = a_integer ? a : b;
      const long double exact = integer.IsInt64() ? static_cast<long double>(integer.GetInt64())
                                                  : static_cast<long double>(integer.GetUint64());
      return exact == static_cast<long double>((a_integer ? b : a).GetDouble());
    }
    return a.GetDouble() == b.GetDouble();
  }
  if (a.GetType() != b.GetType()) return false;
  switch (a.GetType()) {
    case rapidjson::kObjectType: {
      for (const auto& member : a.GetObject()) {
        auto other = b.FindMember(member.name);
        if (other == b.MemberEnd() || !SameJsonValue(member.value, other->value, empty_may_appear)) return false;
      }
      for (const auto& member : b.GetObject()) {
        if (a.FindMember(member.name) != a.MemberEnd()) continue;
        const rapidjson::Value& added = member.value;
        const bool empty = (added.IsArray() && added.Empty()) || (added.IsObject() && added.ObjectEmpty());
        if (!empty_may_appear || !empty) return false;
      }
      return true;
    }
    case rapidjson::kArrayType: {
      if (a.Size() != b.Size()) return false;
      for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
        if (!SameJsonValue(a[i], b[i], empty_may_appear)) return false;
      }
      return true;
    }
    case rapidjson::kStringType:
      return a.GetStringLength() == b.GetStringLength() && absl::string_view(a.GetString(), a.GetStringLength()) ==
                                                               absl::string_view(b.GetString(), b.GetStringLength());
    default:
      return a == b;  // null, true, false
  }
}

}  // namespace hive::fuzz

#include "bridge/codec/json_document.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <system_error>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "rapidjson/error/en.h"
#include "rapidjson/memorystream.h"
#include "rapidjson/reader.h"
#include "rapidjson/writer.h"

namespace hive::codec {
namespace {

// RapidJSON scans numbers (and refuses malformed ones) but hands them over as
// text, which DepthLimitingHandler::RawNumber converts: RapidJSON 1.1.0's own
// full-precision conversion returns garbage for some valid input, e.g. 0e100
// (Tencent/rapidjson#1249), 184467440737095516159 (its significand's rounding
// overflows) and 1.8e308 (NaN instead of "too big").
constexpr unsigned kParseFlags = rapidjson::kParseValidateEncodingFlag | rapidjson::kParseNumbersAsStringsFlag |
                                 rapidjson::kParseStopWhenDoneFlag | rapidjson::kParseIterativeFlag;

// For a number a double cannot hold (from_chars said out of range): true
// when it is below 1 in magnitude, so too small and read as zero; false when
// too large. The number is well-formed JSON with a nonzero digit.
bool IsBelowOne(absl::string_view number) {
  absl::ConsumePrefix(&number, "-");
  const size_t e = number.find_first_of("eE");
  const absl::string_view mantissa = number.substr(0, e);
  // The power of ten of the first nonzero digit, before the exponent.
  // Digits before the point count up from 10^0, those after down from 10^-1.
  int64_t lead = 0;
  const size_t first = mantissa.find_first_not_of("0.");
  if (first != absl::string_view::npos) {
    const size_t point = std::min(mantissa.find('.'), mantissa.size());
    lead = first < point ? static_cast<int64_t>(point - first) - 1 : -static_cast<int64_t>(first - point);
  }
  int64_t exponent = 0;
  if (e != absl::string_view::npos) {
    absl::string_view digits = number.substr(e + 1);
    const bool negative = absl::ConsumePrefix(&digits, "-");
    if (!negative) absl::ConsumePrefix(&digits, "+");
    for (char c : digits) exponent = std::min<int64_t>(exponent * 10 + (c - '0'), int64_t{1} << 40);
    if (negative) exponent = -exponent;
  }
  return lead + exponent < 0;
}

// Forwards SAX events to the document and refuses nesting past a limit; the
// iterative parser plus this bound keep untrusted input off the call stack.
template <typename Document>
class DepthLimitingHandler {
 public:
  DepthLimitingHandler(Document& doc, size_t max_depth) : doc_(doc), max_depth_(max_depth) {}

  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int i) { return doc_.Int(i); }
  bool Uint(unsigned u) { return doc_.Uint(u); }
  bool Int64(int64_t i) { return doc_.Int64(i); }
  bool Uint64(uint64_t u) { return doc_.Uint64(u); }
  bool Double(double d) { return doc_.Double(d); }
  // A number as RapidJSON scanned it (see kParseFlags): an integer literal
  // within 64 bits exactly, anything else as the nearest double.
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    const char* end = s + n;
    if (std::find_if(s, end, [](char c) { return c == '.' || c == 'e' || c == 'E'; }) == end) {
      if (*s == '-') {
        int64_t value = 0;
        if (std::from_chars(s, end, value).ec == std::errc()) return doc_.Int64(value);
      } else {
        uint64_t value = 0;
        if (std::from_chars(s, end, value).ec == std::errc()) return doc_.Uint64(value);
      }
    }
    double value = 0;
    if (std::from_chars(s, end, value).ec == std::errc()) return doc_.Double(value);
    if (IsBelowOne(absl::string_view(s, n))) return doc_.Double(*s == '-' ? -0.0 : 0.0);
    number_too_big_ = true;
    return false;
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return Unicode(s, n) && doc_.String(s, n, copy); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return Unicode(s, n) && doc_.Key(s, n, copy); }
  bool StartObject() { return Enter() && doc_.StartObject(); }
  bool EndObject(rapidjson::SizeType members) {
    --depth_;
    return doc_.EndObject(members);
  }
  bool StartArray() { return Enter() && doc_.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) {
    --depth_;
    return doc_.EndArray(elements);
  }

  bool too_deep() const { return too_deep_; }
  bool number_too_big() const { return number_too_big_; }
  bool lone_surrogate() const { return lone_surrogate_; }

 private:
  // RapidJSON 1.1 validates raw bytes but decodes a lone low-surrogate
  // escape ("\udc00") into the bytes of a surrogate code point (ED B0 80),
  // which is not UTF-8. In UTF-8, 0xED is always a lead byte, and 0xED
  // followed by 0xA0..0xBF is exactly a surrogate.
  bool Unicode(const char* s, rapidjson::SizeType n) {
    for (rapidjson::SizeType i = 0; i + 1 < n; ++i) {
      if (static_cast<unsigned char>(s[i]) == 0xED && static_cast<unsigned char>(s[i + 1]) >= 0xA0) {
        lone_surrogate_ = true;
        return false;
      }
    }
    return true;
  }

  bool Enter() {
    if (++depth_ > max_depth_) too_deep_ = true;
    return !too_deep_;
  }

  Document& doc_;
  const size_t max_depth_;
  size_t depth_ = 0;
  bool too_deep_ = false;
  bool number_too_big_ = false;
  bool lone_surrogate_ = false;
};

bool IsJsonWhitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The reader's own stack (parser states, and each string or key while it is
// read) starts in a buffer on this function's stack, so that a frame of
// ordinary size is read without an allocation.
constexpr size_t kReaderStackCapacity = 256;
constexpr size_t kReaderStackBytes = 1024;

template <typename Document>
absl::Status ParseInto(absl::string_view text, const ParseLimits& limits, Document& doc) {
  rapidjson::MemoryStream stream(text.data(), text.size());
  alignas(std::max_align_t) char reader_buffer[kReaderStackBytes];
  rapidjson::MemoryPoolAllocator<> reader_pool(reader_buffer, sizeof reader_buffer);
  rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>> reader(
      &reader_pool, kReaderStackCapacity);
  DepthLimitingHandler<Document> handler(doc, limits.max_depth);
  rapidjson::ParseResult result;
  size_t end = 0;
  auto generate = [&](auto&) {
    result = reader.Parse<kParseFlags>(stream, handler);
    end = stream.Tell();
    return !result.IsError();
  };
  doc.Populate(generate);
  if (handler.too_deep()) {
    return absl::InvalidArgumentError(absl::StrCat("JSON nested deeper than ", limits.max_depth, " levels"));
  }
  if (handler.number_too_big()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON at byte ", result.Offset(), ": ",
                                                   rapidjson::GetParseError_En(rapidjson::kParseErrorNumberTooBig)));
  }
  if (handler.lone_surrogate()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON at byte ", result.Offset(), ": ",
                     rapidjson::GetParseError_En(rapidjson::kParseErrorStringUnicodeSurrogateInvalid)));
  }
  if (result.IsError()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON at byte ", result.Offset(), ": ", rapidjson::GetParseError_En(result.Code())));
  }
  while (end < text.size() && IsJsonWhitespace(text[end])) ++end;
  if (end != text.size()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON at byte ", end, ": unexpected data after the value"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseJson(absl::string_view text, const ParseLimits& limits, rapidjson::Document& doc) {
  return ParseInto(text, limits, doc);
}

absl::Status ParseJson(absl::string_view text, const ParseLimits& limits, ScratchDocument& doc) {
  return ParseInto(text, limits, doc);
}

std::string DescribeJson(const rapidjson::Value& value) {
  switch (value.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
      return "false";
    case rapidjson::kTrueType:
      return "true";
    case rapidjson::kObjectType:
      return "object";
    case rapidjson::kArrayType:
      return "array";
    case rapidjson::kStringType: {
      constexpr size_t kShown = 32;
      absl::string_view text = ViewOf(value);
      size_t shown = std::min(kShown, text.size());
      // Cut between characters, not inside one: the message must stay UTF-8.
      while (shown < text.size() && shown > 0 && (static_cast<unsigned char>(text[shown]) & 0xC0) == 0x80) --shown;
      return absl::StrCat("string \"", text.substr(0, shown), text.size() > shown ? "…" : "", "\"");
    }
    case rapidjson::kNumberType: {
      rapidjson::StringBuffer buffer;
      rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
      value.Accept(writer);
      return absl::StrCat("number ", buffer.GetString());
    }
  }
  return "value";
}

std::optional<absl::string_view> FindDuplicateKey(const rapidjson::Value& object) {
  // Device objects are small: pairwise compare up to a few members, hash beyond.
  constexpr rapidjson::SizeType kPairwiseLimit = 12;
  if (object.MemberCount() <= kPairwiseLimit) {
    for (auto a = object.MemberBegin(); a != object.MemberEnd(); ++a) {
      for (auto b = a + 1; b != object.MemberEnd(); ++b) {
        if (a->name == b->name) return ViewOf(a->name);
      }
    }
    return std::nullopt;
  }
  absl::flat_hash_set<absl::string_view> seen;
  seen.reserve(object.MemberCount());
  for (const auto& member : object.GetObject()) {
    if (!seen.insert(ViewOf(member.name)).second) return ViewOf(member.name);
  }
  return std::nullopt;
}

}  // namespace hive::codec

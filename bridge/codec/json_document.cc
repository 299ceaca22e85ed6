#include "bridge/codec/json_document.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "rapidjson/error/en.h"
#include "rapidjson/memorystream.h"
#include "rapidjson/reader.h"
#include "rapidjson/writer.h"

namespace hive::codec {
namespace {

constexpr unsigned kParseFlags = rapidjson::kParseValidateEncodingFlag |
                                 rapidjson::kParseFullPrecisionFlag |
                                 rapidjson::kParseStopWhenDoneFlag |
                                 rapidjson::kParseIterativeFlag;

// Forwards SAX events to the document and refuses nesting past a limit; the
// iterative parser plus this bound keep untrusted input off the call stack.
class DepthLimitingHandler {
 public:
  DepthLimitingHandler(rapidjson::Document& doc, size_t max_depth)
      : doc_(doc), max_depth_(max_depth) {}

  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int i) { return doc_.Int(i); }
  bool Uint(unsigned u) { return doc_.Uint(u); }
  bool Int64(int64_t i) { return doc_.Int64(i); }
  bool Uint64(uint64_t u) { return doc_.Uint64(u); }
  bool Double(double d) { return doc_.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) { return doc_.RawNumber(s, n, copy); }
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

  rapidjson::Document& doc_;
  const size_t max_depth_;
  size_t depth_ = 0;
  bool too_deep_ = false;
  bool lone_surrogate_ = false;
};

bool IsJsonWhitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

absl::Status ParseJson(absl::string_view text, const ParseLimits& limits, rapidjson::Document& doc) {
  rapidjson::MemoryStream stream(text.data(), text.size());
  rapidjson::Reader reader;
  DepthLimitingHandler handler(doc, limits.max_depth);
  rapidjson::ParseResult result;
  size_t end = 0;
  auto generate = [&](rapidjson::Document&) {
    result = reader.Parse<kParseFlags>(stream, handler);
    end = stream.Tell();
    return !result.IsError();
  };
  doc.Populate(generate);
  if (handler.too_deep()) {
    return absl::InvalidArgumentError(
        absl::StrCat("JSON nested deeper than ", limits.max_depth, " levels"));
  }
  if (handler.lone_surrogate()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON at byte ", result.Offset(), ": ",
                                                   rapidjson::GetParseError_En(
                                                       rapidjson::kParseErrorStringUnicodeSurrogateInvalid)));
  }
  if (result.IsError()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON at byte ", result.Offset(), ": ",
                                                   rapidjson::GetParseError_En(result.Code())));
  }
  while (end < text.size() && IsJsonWhitespace(text[end])) ++end;
  if (end != text.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON at byte ", end, ": unexpected data after the value"));
  }
  return absl::OkStatus();
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
      return absl::StrCat("string \"", text.substr(0, kShown), text.size() > kShown ? "…" : "", "\"");
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

absl::string_view FindDuplicateKey(const rapidjson::Value& object) {
  // Device objects are small: pairwise compare up to a few members, hash beyond.
  constexpr rapidjson::SizeType kPairwiseLimit = 12;
  if (object.MemberCount() <= kPairwiseLimit) {
    for (auto a = object.MemberBegin(); a != object.MemberEnd(); ++a) {
      for (auto b = a + 1; b != object.MemberEnd(); ++b) {
        if (a->name == b->name) return ViewOf(a->name);
      }
    }
    return {};
  }
  absl::flat_hash_set<absl::string_view> seen;
  seen.reserve(object.MemberCount());
  for (const auto& member : object.GetObject()) {
    if (!seen.insert(ViewOf(member.name)).second) return ViewOf(member.name);
  }
  return {};
}

}  // namespace hive::codec

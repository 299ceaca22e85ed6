#include "tests/integration/support/json_assertions.h"

#include <algorithm>

#include "bridge/codec/json_document.h"

namespace hive::integration {

std::optional<rapidjson::Document> ParseJsonText(absl::string_view text) {
  rapidjson::Document doc;
  if (!codec::ParseJson(text, codec::ParseLimits{128}, doc).ok()) return std::nullopt;
  return doc;
}

::testing::AssertionResult JsonEquals(absl::string_view actual, absl::string_view expected) {
  std::optional<rapidjson::Document> a = ParseJsonText(actual);
  std::optional<rapidjson::Document> e = ParseJsonText(expected);
  if (!a.has_value()) return ::testing::AssertionFailure() << "not JSON: " << actual;
  if (!e.has_value()) return ::testing::AssertionFailure() << "expected text is not JSON: " << expected;
  if (*a == *e) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "JSON differs:\n  actual:   " << actual << "\n  expected: " << expected;
}

std::vector<std::string> KeysOf(const rapidjson::Value& object) {
  std::vector<std::string> keys;
  if (!object.IsObject()) return keys;
  for (const auto& member : object.GetObject()) keys.emplace_back(codec::ViewOf(member.name));
  std::sort(keys.begin(), keys.end());
  return keys;
}

std::string StringField(absl::string_view text, absl::string_view key) {
  std::optional<rapidjson::Document> doc = ParseJsonText(text);
  if (!doc.has_value() || !doc->IsObject()) return {};
  auto it = doc->FindMember(rapidjson::StringRef(key.data(), key.size()));
  if (it == doc->MemberEnd() || !it->value.IsString()) return {};
  return std::string(codec::ViewOf(it->value));
}

}  // namespace hive::integration

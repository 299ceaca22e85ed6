// tests/integration/support/json_assertions.h
// Comparing JSON as values, not as text: key order and spacing do not
// matter, every member and element does.
//
//   EXPECT_TRUE(JsonEquals(frame, R"({"type":"authenticated","device":"..."})"));
//   std::optional<rapidjson::Document> doc = ParseJsonText(frame);
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace hive::integration {

// The parsed text, or nullopt when it is not valid JSON.
std::optional<rapidjson::Document> ParseJsonText(absl::string_view text);

// Success when both texts parse to the same JSON value.
::testing::AssertionResult JsonEquals(absl::string_view actual, absl::string_view expected);

// The object's member names, sorted.
std::vector<std::string> KeysOf(const rapidjson::Value& object);

// The string member `key` of a JSON object text; empty when absent.
std::string StringField(absl::string_view text, absl::string_view key);

}  // namespace hive::integration

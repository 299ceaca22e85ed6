// tests/unit/codec/json_assertions.h
// Compares JSON by value (member order ignored), the equality the protocol
// promises, and reads golden files.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace hive::testing {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline std::string GoldenPath(const std::string& name) {
  return std::string(HIVE_TESTDATA_DIR) + "/codec/golden/" + name;
}

inline ::testing::AssertionResult JsonEqual(const std::string& expected, const std::string& actual) {
  rapidjson::Document a;
  rapidjson::Document b;
  a.Parse<rapidjson::kParseFullPrecisionFlag>(expected.c_str(), expected.size());
  b.Parse<rapidjson::kParseFullPrecisionFlag>(actual.c_str(), actual.size());
  if (a.HasParseError()) return ::testing::AssertionFailure() << "expected is not JSON: " << expected;
  if (b.HasParseError()) return ::testing::AssertionFailure() << "actual is not JSON: " << actual;
  if (a == b) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "JSON values differ\n  expected: " << expected << "\n  actual:   " << actual;
}

}  // namespace hive::testing

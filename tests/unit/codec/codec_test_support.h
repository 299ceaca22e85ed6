// tests/unit/codec/codec_test_support.h
// What the codec tests share: decoding JSON text through the public codec
// entry points, comparing protobuf messages with a readable diff, and naming
// golden files per dialect ("event_device_state.json" for hive.v1,
// "event_device_state.compact.json" for hive.compact.v1).
#pragma once

#include <initializer_list>
#include <ostream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bridge/codec/device_event.h"
#include "bridge/codec/device_request.h"
#include "bridge/codec/device_response.h"
#include "bridge/codec/dialect.h"
#include "bridge/codec/json_document.h"
#include "bridge/codec/json_path.h"
#include "google/protobuf/message.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace hive::codec {

// Lets gtest print a Dialect parameter by name.
inline void PrintTo(Dialect dialect, std::ostream* out) {
  *out << (dialect == Dialect::kCompact ? "hive.compact.v1" : "hive.v1");
}

}  // namespace hive::codec

namespace hive::testing {

inline const char* DialectName(codec::Dialect dialect) {
  return dialect == codec::Dialect::kCompact ? "compact" : "standard";
}

// "<stem>.json" or "<stem>.compact.json".
inline std::string GoldenFileName(absl::string_view stem, codec::Dialect dialect) {
  return std::string(stem) + (dialect == codec::Dialect::kCompact ? ".compact.json" : ".json");
}

// Equality as MessageDifferencer sees it (maps as maps, presence counts),
// with the differences spelled out on failure.
inline ::testing::AssertionResult ProtoEqual(const google::protobuf::Message& expected,
                                             const google::protobuf::Message& actual) {
  std::string diff;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  if (differencer.Compare(expected, actual)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "messages differ:\n"
                                       << diff << "expected:\n"
                                       << expected.DebugString() << "actual:\n"
                                       << actual.DebugString();
}

// Parses `text` with the codec's own parser (default limits) and decodes it
// with `decode(value, dialect, path)`.
template <typename Decode>
auto ParseAndDecode(absl::string_view text, codec::Dialect dialect, Decode decode)
    -> decltype(decode(std::declval<const rapidjson::Value&>(), dialect, std::declval<codec::JsonPath&>())) {
  rapidjson::Document doc;
  if (absl::Status status = codec::ParseJson(text, codec::ParseLimits{}, doc); !status.ok()) return status;
  codec::JsonPath path;
  return decode(doc, dialect, path);
}

inline absl::StatusOr<hive::bridge::v1::DeviceEvent> DecodeEventText(absl::string_view text, codec::Dialect dialect) {
  return ParseAndDecode(text, dialect, &codec::DecodeDeviceEvent);
}

inline absl::StatusOr<hive::bridge::v1::DeviceRequest> DecodeRequestText(absl::string_view text,
                                                                         codec::Dialect dialect) {
  return ParseAndDecode(text, dialect, &codec::DecodeDeviceRequest);
}

inline absl::StatusOr<codec::DeviceResponse> DecodeResponseText(absl::string_view text, codec::Dialect dialect) {
  return ParseAndDecode(text, dialect, &codec::DecodeDeviceResponse);
}

// A tiny builder for Struct contents, so typed test messages read like the
// JSON they stand for:
//   StructOf({{"path", JStr("/data")}, {"units", JList({JStr("B")})}})
inline google::protobuf::Value JStr(std::string text) {
  google::protobuf::Value value;
  value.set_string_value(std::move(text));
  return value;
}
inline google::protobuf::Value JNum(double number) {
  google::protobuf::Value value;
  value.set_number_value(number);
  return value;
}
inline google::protobuf::Value JBool(bool flag) {
  google::protobuf::Value value;
  value.set_bool_value(flag);
  return value;
}
inline google::protobuf::Value JNull() {
  google::protobuf::Value value;
  value.set_null_value(google::protobuf::NULL_VALUE);
  return value;
}
inline google::protobuf::Value JList(std::initializer_list<google::protobuf::Value> items) {
  google::protobuf::Value value;
  value.mutable_list_value();  // an empty list is still a list
  for (const auto& item : items) *value.mutable_list_value()->add_values() = item;
  return value;
}
inline google::protobuf::Struct StructOf(
    std::initializer_list<std::pair<std::string, google::protobuf::Value>> members) {
  google::protobuf::Struct object;
  for (const auto& [key, value] : members) (*object.mutable_fields())[key] = value;
  return object;
}
inline google::protobuf::Value JObj(std::initializer_list<std::pair<std::string, google::protobuf::Value>> members) {
  google::protobuf::Value value;
  *value.mutable_struct_value() = StructOf(members);
  return value;
}

// One golden file and the typed message it holds.
template <typename Message>
struct Golden {
  const char* stem = nullptr;
  Message (*build)() = nullptr;
  // Integer literals that must appear verbatim in the encoded text.
  std::vector<std::string> exact_literals;
};

template <typename Message>
void PrintTo(const Golden<Message>& golden, std::ostream* out) {
  *out << golden.stem;
}

// Names a (golden, dialect) test case "<stem>_<dialect>".
struct GoldenCaseName {
  template <typename Message>
  std::string operator()(const ::testing::TestParamInfo<std::tuple<Golden<Message>, codec::Dialect>>& info) const {
    return std::string(std::get<0>(info.param).stem) + "_" + DialectName(std::get<1>(info.param));
  }
};

}  // namespace hive::testing

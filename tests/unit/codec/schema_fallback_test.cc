// A device event is never refused for its fields: a known type whose fields
// do not fit its typed body is read with the generic body, every field in
// `extra` exactly as the device sent it, and `schema_error` saying what the
// strict reading found. One row per kind of misfit, in both dialects; then
// what still fails (not an event at all), and the per-type count /metrics
// reads.
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "bridge/codec/device_event.h"
#include "bridge/codec/device_frame.h"
#include "bridge/codec/schema_error_counts.h"
#include "gtest/gtest.h"
#include "tests/unit/codec/codec_test_support.h"
#include "tests/unit/codec/json_assertions.h"

namespace hive::codec {
namespace {

using hive::bridge::v1::DeviceEvent;
using hive::testing::DecodeEventText;
using hive::testing::JObj;
using hive::testing::JsonEqual;
using hive::testing::JStr;
using hive::testing::ProtoEqual;
using hive::testing::StructOf;

struct MisfitCase {
  std::string name;
  // The whole event, envelope included (so re-encoding it gives it back).
  std::string text;
  std::string schema_error;
  Dialect dialect = Dialect::kStandard;
};

void PrintTo(const MisfitCase& row, std::ostream* out) { *out << row.name; }

MisfitCase Standard(std::string name, std::string fields, std::string schema_error) {
  return {std::move(name), R"({"device":"d","account":"a","service":"hive-device",)" + fields + "}",
          std::move(schema_error)};
}

MisfitCase Compact(std::string name, std::string fields, std::string schema_error) {
  return {std::move(name), R"({"dev":"d","acc":"a","svc":"hive-device",)" + fields + "}", std::move(schema_error),
          Dialect::kCompact};
}

const std::vector<MisfitCase>& MisfitRows() {
  static const auto* const rows = new std::vector<MisfitCase>{
      // The four types a device may send, each with a field of another shape.
      Standard("ObjectWhereString", R"("type":"device-state","state":{"disk":"low"},"message":"m")",
               "state: expected string, got object"),
      Standard("StringWhereNumber", R"("type":"device-state","disk_free_bytes":"1024")",
               R"(disk_free_bytes: expected unsigned 64-bit integer, got string "1024")"),
      Standard("NegativeWhereUnsigned", R"("type":"device-state","disk_free_bytes":-5,"state":"disk-low")",
               "disk_free_bytes: expected unsigned 64-bit integer, got number -5"),
      Standard("BeyondUint64Max", R"("type":"device-state","disk_total_bytes":18446744073709551616)",
               "disk_total_bytes: expected unsigned 64-bit integer, got number 18446744073709553000.0"),
      Standard("ObjectVersion", R"("type":"device-version","version":{"major":1,"minor":2})",
               "version: expected string, got object"),
      Standard("NumberWhereString", R"("type":"device-version","version":3)", "version: expected string, got number 3"),
      Standard("StringWhereArray", R"("type":"instances","instances":"x")",
               R"(instances: expected array, got string "x")"),
      Standard("ObjectWhereArray", R"("type":"instances","instances":{})", "instances: expected array, got object"),
      Standard("BoolWhereStringInAnArray", R"("type":"instances","instances":[{"health":true,"instance":"i"}])",
               "instances[0].health: expected string, got true"),
      Standard("ArrayWhereObject", R"("type":"instances","instances":[{"application":[]}])",
               "instances[0].application: expected object, got array"),
      Standard("NumberWhereObject", R"("type":"instance-state","storage_apikeys":5,"instance":"i")",
               "storage_apikeys: expected object, got number 5"),
      Standard("ArrayWhereString", R"("type":"instance-state","state":["a"])", "state: expected string, got array"),
      // Integers beyond a double keep their exact value in the fallback too.
      Standard("ExactIntegersSurvive",
               R"("type":"device-state","state":{"n":9007199254740993},"big":18446744073709551615)",
               "state: expected string, got object"),
      // The bridge's own types decode the same way (the session then refuses
      // them as reserved, whatever their fields).
      Standard("FractionWhereInteger", R"("type":"device-disconnected","close_code":1000.5)",
               "close_code: expected 32-bit integer, got number 1000.5"),
      // The compact dialect: the same errors (standard key names), and the
      // fields kept under the codes the device sent.
      Compact("CompactObjectWhereString", R"("typ":"device-state","sta":{"disk":"low"})",
              "state: expected string, got object"),
      Compact("CompactStringWhereNumber", R"("typ":"device-state","dfb":"1024")",
              R"(disk_free_bytes: expected unsigned 64-bit integer, got string "1024")"),
      Compact("CompactObjectVersion", R"("typ":"device-version","ver":{"major":1})",
              "version: expected string, got object"),
      Compact("CompactStringWhereArray", R"("typ":"instances","iss":"x")",
              R"(instances: expected array, got string "x")"),
      Compact("CompactNumberWhereObject", R"("typ":"instance-state","sak":5)",
              "storage_apikeys: expected object, got number 5"),
      // The standard spelling of a Struct field is refused by the typed
      // reading of a compact frame; the generic one keeps it as sent.
      Compact("CompactStandardSpellingOfAStructField",
              R"("typ":"instance-state","sak":{"q":1},"storage_apikeys":{"q":2})",
              R"(storage_apikeys: the compact dialect spells this field "sak")"),
  };
  return *rows;
}

class SchemaFallback : public ::testing::TestWithParam<MisfitCase> {};

TEST_P(SchemaFallback, DeliversTheEventGenericWithEveryFieldAsSentAndTheSchemaError) {
  const MisfitCase& row = GetParam();
  SCOPED_TRACE("input: " + row.text);
  absl::StatusOr<DeviceEvent> event = DecodeEventText(row.text, row.dialect);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->schema_error(), row.schema_error);
  EXPECT_TRUE(event->has_generic()) << event->DebugString();
  EXPECT_EQ(event->device_id(), "d");
  EXPECT_EQ(event->account_id(), "a");
  EXPECT_EQ(event->service(), "hive-device");
  // Every field comes back out exactly as it went in, in the device's dialect.
  EXPECT_TRUE(JsonEqual(row.text, EncodeDeviceEvent(*event, row.dialect)));
}

TEST_P(SchemaFallback, ArrivesThroughTheFrameDecoderAsAnEventNotAnError) {
  const MisfitCase& row = GetParam();
  const std::string batch = "[" + row.text + "," + row.text + "]";
  absl::StatusOr<std::vector<FrameItem>> items = DecodeDeviceFrame(batch, row.dialect, FrameLimits{});
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->size(), 2u);
  for (const FrameItem& item : *items) {
    ASSERT_TRUE(item.message.ok()) << item.message.status();
    const auto* event = std::get_if<DeviceEvent>(&*item.message);
    ASSERT_NE(event, nullptr);
    // Relative to the event, not to its place in the batch.
    EXPECT_EQ(event->schema_error(), row.schema_error);
  }
}

INSTANTIATE_TEST_SUITE_P(Misfits, SchemaFallback, ::testing::ValuesIn(MisfitRows()),
                         [](const ::testing::TestParamInfo<MisfitCase>& info) { return info.param.name; });

TEST(SchemaFallbackDetails, KeepsTheFieldsInExtraUnderTheKeysTheDeviceUsed) {
  absl::StatusOr<DeviceEvent> standard =
      DecodeEventText(R"({"type":"device-state","state":{"disk":"low"},"note":"n"})", Dialect::kStandard);
  ASSERT_TRUE(standard.ok()) << standard.status();
  EXPECT_TRUE(ProtoEqual(StructOf({{"state", JObj({{"disk", JStr("low")}})}, {"note", JStr("n")}}), standard->extra()));

  absl::StatusOr<DeviceEvent> compact =
      DecodeEventText(R"({"typ":"device-state","sta":{"disk":"low"}})", Dialect::kCompact);
  ASSERT_TRUE(compact.ok()) << compact.status();
  EXPECT_TRUE(ProtoEqual(StructOf({{"sta", JObj({{"disk", JStr("low")}})}}), compact->extra()));
}

TEST(SchemaFallbackDetails, AWellFormedEventStaysTypedWithoutASchemaError) {
  absl::StatusOr<DeviceEvent> event =
      DecodeEventText(R"({"type":"device-state","state":"disk-low","disk_free_bytes":5})", Dialect::kStandard);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_TRUE(event->has_device_state());
  EXPECT_EQ(event->device_state().state(), "disk-low");
  EXPECT_EQ(event->device_state().disk_free_bytes(), 5u);
  EXPECT_EQ(event->schema_error(), "");
}

TEST(SchemaFallbackDetails, AnEnvelopeFieldThatIsNotAStringLeavesAKnownBodyTyped) {
  absl::StatusOr<DeviceEvent> event =
      DecodeEventText(R"({"type":"device-version","version":"1.2","service":5})", Dialect::kStandard);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->schema_error(), "service: expected string, got number 5");
  EXPECT_EQ(event->device_version().version(), "1.2");
  EXPECT_EQ(event->service(), "");
}

TEST(SchemaFallbackDetails, AnEnvelopeFieldThatIsNotAStringIsASchemaErrorAndIsLeftOut) {
  // The bridge overwrites device, account and service of a device's event,
  // so the misfit value has nowhere to go; the rest is kept.
  absl::StatusOr<DeviceEvent> event =
      DecodeEventText(R"({"type":"telemetry","device":42,"account":"a","t":1})", Dialect::kStandard);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->schema_error(), "device: expected string, got number 42");
  EXPECT_TRUE(event->has_generic());
  EXPECT_EQ(event->device_id(), "");
  EXPECT_EQ(event->account_id(), "a");
  EXPECT_TRUE(ProtoEqual(StructOf({{"t", hive::testing::JNum(1)}}), event->extra()));
}

// What is no event at all still fails, with the same message as before.
TEST(SchemaFallbackDetails, WhatIsNotAnEventStillFails) {
  for (const auto& [text, message] : std::vector<std::pair<std::string, std::string>>{
           {R"({"state":{"disk":"low"}})", "type: missing"},
           {R"({"type":7,"state":"x"})", "type: expected non-empty string, got number 7"},
           {R"({"type":"","state":"x"})", R"(type: expected non-empty string, got string "")"},
           {R"(["device-state"])", R"(expected object, got array)"},
           // A duplicate key is no shape a relay could keep: which one counts?
           {R"({"type":"device-state","state":"ok","state":{"disk":"low"}})", R"((root): duplicate key "state")"},
           {R"({"type":"instances","instances":[{"application":{"name":"a","name":"b"}}]})",
            R"(instances[0].application: duplicate key "name")"},
       }) {
    SCOPED_TRACE(text);
    absl::StatusOr<DeviceEvent> event = DecodeEventText(text, Dialect::kStandard);
    ASSERT_FALSE(event.ok()) << event->DebugString();
    EXPECT_EQ(event.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(event.status().message().find(message), absl::string_view::npos) << event.status();
  }
}

TEST(SchemaFallbackDetails, ADuplicateKeyInABatchMemberFailsThatMemberAlone) {
  absl::StatusOr<std::vector<FrameItem>> items =
      DecodeDeviceFrame(R"([{"type":"device-state","state":{"x":1}},{"type":"device-state","state":"a","state":"b"}])",
                        Dialect::kStandard, FrameLimits{});
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->size(), 2u);
  ASSERT_TRUE((*items)[0].message.ok());
  ASSERT_FALSE((*items)[1].message.ok());
  EXPECT_EQ((*items)[1].message.status().message(), R"([1]: duplicate key "state")");
}

TEST(SchemaErrorCounting, CountsEachMisfitFrameMemberByItsKnownTypeAndTheRestAsOther) {
  SchemaErrorCounts& counts = SchemaErrorCounts::OfProcess();
  const uint64_t state_before = counts.value("device-state");
  const uint64_t version_before = counts.value("device-version");
  const uint64_t other_before = counts.value("other");
  const uint64_t instances_before = counts.value("instances");
  absl::StatusOr<std::vector<FrameItem>> items =
      DecodeDeviceFrame(R"([{"type":"device-state","state":{}},{"type":"device-state","disk_free_bytes":-5},)"
                        R"({"type":"device-version","version":{"major":1}},{"type":"telemetry","device":1},)"
                        R"({"type":"device-alive","address":5},{"type":"instances","instances":[]}])",
                        Dialect::kStandard, FrameLimits{});
  ASSERT_TRUE(items.ok()) << items.status();
  EXPECT_EQ(counts.value("device-state") - state_before, 2u);
  EXPECT_EQ(counts.value("device-version") - version_before, 1u);
  // An unknown type's label is "other", so a device cannot grow the label set;
  // the bridge's own types are not counted (the session refuses them).
  EXPECT_EQ(counts.value("other") - other_before, 1u);
  EXPECT_EQ(counts.value("telemetry"), counts.value("other"));
  // A well-formed event counts nothing.
  EXPECT_EQ(counts.value("instances") - instances_before, 0u);
}

}  // namespace
}  // namespace hive::codec

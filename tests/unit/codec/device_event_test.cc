#include "bridge/codec/device_event.h"

#include <cmath>
#include <ostream>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bridge/codec/device_frame.h"
#include "gtest/gtest.h"
#include "tests/unit/codec/codec_test_support.h"
#include "tests/unit/codec/json_assertions.h"

namespace hive::codec {
namespace {

using namespace std::string_literals;  // NOLINT: "...\0..."s keeps the NUL

using hive::bridge::v1::AppInstanceStatus;
using hive::bridge::v1::DeviceEvent;
using hive::testing::DecodeEventText;
using hive::testing::GoldenFileName;
using hive::testing::GoldenPath;
using hive::testing::JBool;
using hive::testing::JList;
using hive::testing::JNull;
using hive::testing::JNum;
using hive::testing::JObj;
using hive::testing::JsonEqual;
using hive::testing::JStr;
using hive::testing::ProtoEqual;
using hive::testing::ReadFile;
using hive::testing::StructOf;

constexpr char kAccount[] = "8813b625-e219-4390-9a7b-fe0e22c9e50b";
constexpr char kDevice[] = "d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b";
constexpr char kInstance[] = "ad51b914-688a-4a5f-a073-5c5121a010e2";
constexpr double kTwoTo64 = 18446744073709551616.0;  // nearest double of 2^64 - 1

DeviceEvent Envelope(const char* service, const char* type) {
  DeviceEvent event;
  event.set_device_id(kDevice);
  event.set_account_id(kAccount);
  event.set_service(service);
  event.set_type(type);
  return event;
}

// Unknown members at the top, in an instance and inside its application.
DeviceEvent InstancesEvent() {
  DeviceEvent event = Envelope("hive-device", "instances");
  auto& instances = *event.mutable_instances();
  AppInstanceStatus& wikijs = *instances.add_instances();
  wikijs.set_instance(kInstance);
  wikijs.mutable_application()->set_appstore("Fractal App Store");
  wikijs.mutable_application()->set_name("wikijs");
  wikijs.mutable_application()->set_version("2.5.201");
  *wikijs.mutable_application()->mutable_extra() = StructOf({{"build", JNum(4711)}});
  wikijs.set_state("AppInstanceState.running");
  wikijs.set_health("healthy");
  *wikijs.mutable_extra() = StructOf({{"uptime_s", JNum(86400)}});
  AppInstanceStatus& element = *instances.add_instances();
  element.set_instance("0f6c3a52-58f1-4a47-a2a5-2f0c8c7e0d11");
  element.mutable_application()->set_appstore("Fractal App Store");
  element.mutable_application()->set_name("element");
  element.mutable_application()->set_version("1.11");
  element.set_state("AppInstanceState.stopped");
  element.set_health("unhealthy");
  *event.mutable_extra() = StructOf({{"firmware", JObj({{"channel", JStr("beta")}, {"build", JStr("2024.06.1")}})}});
  return event;
}

// An exact number inside a Struct field of the body is the event's.
DeviceEvent InstanceStateEvent() {
  DeviceEvent event = Envelope("hive-device", "instance-state");
  auto& body = *event.mutable_instance_state();
  body.set_instance(kInstance);
  body.set_state("configured");
  *body.mutable_storage_apikeys() = StructOf(
      {{"s3", JObj({{"access_key", JStr("AKIAEXAMPLE")}, {"quota_bytes", JNum(kTwoTo64)}})}, {"rotated", JBool(true)}});
  body.set_encrypted_storage_apikeys("c2VjcmV0LWtleXM=");
  (*event.mutable_exact_numbers())["/storage_apikeys/s3/quota_bytes"] = "18446744073709551615";
  return event;
}

DeviceEvent DeviceVersionEvent() {
  DeviceEvent event = Envelope("hive-device", "device-version");
  event.mutable_device_version()->set_version("1.8.0");
  *event.mutable_extra() = StructOf({{"git_sha", JStr("a1b2c3d")}});
  return event;
}

// A typed uint64 field holds 2^64 - 1 exactly, without exact_numbers.
DeviceEvent DeviceStateEvent() {
  DeviceEvent event = Envelope("hive-device", "device-state");
  auto& body = *event.mutable_device_state();
  body.set_state("disk-low");
  body.set_message("Disk space below 10% on /data");
  body.set_disk_free_bytes(1073741824);
  body.set_disk_total_bytes(18446744073709551615ULL);
  *event.mutable_extra() = StructOf({{"mount", JStr("/data")}});
  return event;
}

DeviceEvent DeviceAliveEvent() {
  DeviceEvent event = Envelope("hive-backend", "device-alive");
  event.mutable_alive()->set_address("203.0.113.7:51234");
  return event;
}

DeviceEvent DeviceConnectedEvent() {
  DeviceEvent event = Envelope("hive-backend", "device-connected");
  event.mutable_connected()->set_address("203.0.113.7:51234");
  event.mutable_connected()->set_protocol("hive.compact.v1");
  return event;
}

DeviceEvent DeviceDisconnectedEvent() {
  DeviceEvent event = Envelope("hive-backend", "device-disconnected");
  event.mutable_disconnected()->set_close_code(4409);
  event.mutable_disconnected()->set_reason("replaced by a newer connection");
  return event;
}

// A type the schema does not know: nested objects and arrays, null,
// unicode, escapes (NUL, control characters, a surrogate pair), integers
// beyond 2^53 at the top, in an array and under a key that needs RFC 6901
// escaping.
DeviceEvent GenericEvent() {
  DeviceEvent event = Envelope("hive-device", "sensor-reading");
  event.mutable_generic();
  *event.mutable_extra() = StructOf({
      {"reading", JObj({{"temperature", JNum(21.5)},
                        {"unit", JStr("°C")},
                        {"tags", JList({JStr("indoor"), JNull(), JBool(true)})},
                        {"nested", JObj({{"deeper", JObj({{"deepest", JList({JList({}), JObj({})})}})}})}})},
      {"label", JStr("Grüße \"quoted\" back\\slash\ttab\nnewline \0nul \x1f 日本語 🐝 🐝 \u2028"s)},
      {"counter", JNum(9007199254740992.0)},
      {"max", JNum(kTwoTo64)},
      {"min", JNum(-9007199254740992.0)},
      {"ids", JList({JNum(1), JNum(9007199254740996.0)})},
      {"a/b~c", JNum(9007199254740996.0)},
      {"ratio", JNum(-0.000123)},
      {"nothing", JNull()},
      {"empty", JStr("")},
      {"flag", JBool(false)},
  });
  auto& exact = *event.mutable_exact_numbers();
  exact["/counter"] = "9007199254740993";
  exact["/max"] = "18446744073709551615";
  exact["/min"] = "-9007199254740993";
  exact["/ids/1"] = "9007199254740995";
  exact["/a~1b~0c"] = "9007199254740997";
  return event;
}

using EventGolden = hive::testing::Golden<DeviceEvent>;

const EventGolden kEventGoldens[] = {
    {"event_instances", &InstancesEvent, {}},
    {"event_instance_state", &InstanceStateEvent, {"18446744073709551615"}},
    {"event_device_version", &DeviceVersionEvent, {}},
    {"event_device_state", &DeviceStateEvent, {"18446744073709551615"}},
    {"event_device_alive", &DeviceAliveEvent, {}},
    {"event_device_connected", &DeviceConnectedEvent, {}},
    {"event_device_disconnected", &DeviceDisconnectedEvent, {}},
    {"event_generic",
     &GenericEvent,
     {"9007199254740993", "18446744073709551615", "-9007199254740993", "9007199254740995", "9007199254740997"}},
};

class DeviceEventGolden : public ::testing::TestWithParam<std::tuple<EventGolden, Dialect>> {
 protected:
  const EventGolden& golden() const { return std::get<0>(GetParam()); }
  Dialect dialect() const { return std::get<1>(GetParam()); }
  std::string GoldenText() const { return ReadFile(GoldenPath(GoldenFileName(golden().stem, dialect()))); }
};

TEST_P(DeviceEventGolden, EncodesToTheGoldenFile) {
  const std::string json = EncodeDeviceEvent(golden().build(), dialect());
  EXPECT_TRUE(JsonEqual(GoldenText(), json));
  for (const std::string& literal : golden().exact_literals) {
    EXPECT_TRUE(absl::StrContains(json, literal)) << literal << " not written exactly in " << json;
  }
}

TEST_P(DeviceEventGolden, DecodesTheGoldenFileToTheTypedMessage) {
  absl::StatusOr<DeviceEvent> decoded = DecodeEventText(GoldenText(), dialect());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(ProtoEqual(golden().build(), *decoded));
}

TEST_P(DeviceEventGolden, ArrivesThroughTheFrameDecoderAsAnEvent) {
  absl::StatusOr<std::vector<FrameItem>> items = DecodeDeviceFrame(GoldenText(), dialect(), FrameLimits{});
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->size(), 1u);
  ASSERT_TRUE((*items)[0].message.ok()) << (*items)[0].message.status();
  const auto* event = std::get_if<DeviceEvent>(&*(*items)[0].message);
  ASSERT_NE(event, nullptr) << "decoded as a device response";
  EXPECT_TRUE(ProtoEqual(golden().build(), *event));
}

INSTANTIATE_TEST_SUITE_P(DeviceEventCodec, DeviceEventGolden,
                         ::testing::Combine(::testing::ValuesIn(kEventGoldens),
                                            ::testing::Values(Dialect::kStandard, Dialect::kCompact)),
                         hive::testing::GoldenCaseName());

TEST(DeviceEventCodec, RecordsIntegersBeyondDoublePrecisionAsLiterals) {
  absl::StatusOr<DeviceEvent> decoded = DecodeEventText(
      R"({"type":"t","big":9007199254740993,"neg":-9223372036854775807,"fits":9007199254740992,
          "list":[{"x":18446744073709551615}]})",
      Dialect::kStandard);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->extra().fields().at("big").number_value(), 9007199254740992.0);
  ASSERT_EQ(decoded->exact_numbers().size(), 3u) << decoded->DebugString();
  EXPECT_EQ(decoded->exact_numbers().at("/big"), "9007199254740993");
  EXPECT_EQ(decoded->exact_numbers().at("/neg"), "-9223372036854775807");
  EXPECT_EQ(decoded->exact_numbers().at("/list/0/x"), "18446744073709551615");
  EXPECT_FALSE(decoded->exact_numbers().contains("/fits"));
}

// Found by fuzz/device_frame_fuzzer: RapidJSON 1.1's full-precision reading
// made garbage of these (-1.99e146 for 0e100, -2.0e264 for the second line,
// different from build to build).
TEST(DeviceEventCodec, ReadsEveryNumberAsItsNearestDouble) {
  absl::StatusOr<DeviceEvent> decoded = DecodeEventText(
      R"({"type":"t","a":0e100,"b":-0.0e-30,"c":0E+23,"d":-0,"e":0.000e5,"f":1.5e-30,"g":-2.5E+300,
          "h":184467440737095516159,"i":0.184467440737095516159,"j":1e-400,"k":-2e-324,"l":3e-324})",
      Dialect::kStandard);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  const auto& fields = decoded->extra().fields();
  for (const char* zero : {"a", "b", "c", "d", "e", "j", "k"}) {
    EXPECT_EQ(fields.at(zero).number_value(), 0.0) << zero;
  }
  EXPECT_TRUE(std::signbit(fields.at("b").number_value()));
  EXPECT_TRUE(std::signbit(fields.at("k").number_value()));
  EXPECT_EQ(fields.at("f").number_value(), 1.5e-30);
  EXPECT_EQ(fields.at("g").number_value(), -2.5e300);
  EXPECT_EQ(fields.at("h").number_value(), 184467440737095516159.0);
  EXPECT_EQ(fields.at("i").number_value(), 0.184467440737095516159);
  EXPECT_EQ(fields.at("l").number_value(), 4.9406564584124654e-324);
  EXPECT_TRUE(decoded->exact_numbers().empty()) << decoded->DebugString();
}

// Found by fuzz/device_frame_fuzzer: "dtb":1.8446744073709552e16 sent the
// event to the generic schema, its encoding wrote the integer
// 18446744073709552, and that decoded typed. proto3's JSON mapping reads an
// integral number into an integer field whatever its spelling.
TEST(DeviceEventCodec, ReadsIntegralNumbersOfAnySpellingIntoIntegerFields) {
  absl::StatusOr<DeviceEvent> decoded = DecodeEventText(
      R"({"type":"device-state","state":"disk-low","disk_free_bytes":5.0,"disk_total_bytes":1.8446744073709552e16})",
      Dialect::kStandard);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_TRUE(decoded->has_device_state()) << decoded->DebugString();
  EXPECT_TRUE(decoded->schema_error().empty()) << decoded->schema_error();
  EXPECT_EQ(decoded->device_state().disk_free_bytes(), 5u);
  EXPECT_EQ(decoded->device_state().disk_total_bytes(), 18446744073709552u);
  const std::string json = EncodeDeviceEvent(*decoded, Dialect::kStandard);
  EXPECT_TRUE(absl::StrContains(json, R"("disk_free_bytes":5,)")) << json;
  EXPECT_TRUE(absl::StrContains(json, R"("disk_total_bytes":18446744073709552)")) << json;
}

TEST(DeviceEventCodec, RefusesFractionsAndOutOfRangeNumbersInIntegerFields) {
  for (const char* number : {"5.5", "-1.0", "1.8446744073709552e19", "1e300"}) {
    absl::StatusOr<DeviceEvent> decoded =
        DecodeEventText(absl::StrCat(R"({"type":"device-state","state":"disk-low","disk_free_bytes":)", number, "}"),
                        Dialect::kStandard);
    ASSERT_TRUE(decoded.ok()) << number << ": " << decoded.status();
    EXPECT_TRUE(decoded->has_generic()) << number << ": " << decoded->DebugString();
    EXPECT_TRUE(absl::StrContains(decoded->schema_error(), "disk_free_bytes: expected unsigned 64-bit integer"))
        << number << ": " << decoded->schema_error();
  }
}

TEST(DeviceEventCodec, WritesTheDoubleOnceTheStructNoLongerHoldsTheLiteralsValue) {
  DeviceEvent event = Envelope("hive-device", "t");
  event.mutable_generic();
  *event.mutable_extra() = StructOf({{"big", JNum(1.5)}});
  (*event.mutable_exact_numbers())["/big"] = "9007199254740993";
  const std::string json = EncodeDeviceEvent(event, Dialect::kStandard);
  EXPECT_TRUE(absl::StrContains(json, R"("big":1.5)")) << json;
  EXPECT_FALSE(absl::StrContains(json, "9007199254740993")) << json;
}

TEST(DeviceEventCodec, WritesIntegralDoublesAsIntegers) {
  DeviceEvent event = Envelope("hive-device", "t");
  event.mutable_generic();
  *event.mutable_extra() = StructOf({{"n", JNum(5)}, {"limit", JNum(9007199254740992.0)}, {"neg", JNum(-3)}});
  const std::string json = EncodeDeviceEvent(event, Dialect::kStandard);
  EXPECT_TRUE(absl::StrContains(json, R"("n":5)")) << json;
  EXPECT_TRUE(absl::StrContains(json, R"("limit":9007199254740992)")) << json;
  EXPECT_TRUE(absl::StrContains(json, R"("neg":-3)")) << json;
}

TEST(DeviceEventCodec, AlwaysSetsABodyForTheType) {
  for (const auto& [type, body] : std::vector<std::pair<std::string, DeviceEvent::BodyCase>>{
           {"instances", DeviceEvent::kInstances},
           {"instance-state", DeviceEvent::kInstanceState},
           {"device-version", DeviceEvent::kDeviceVersion},
           {"device-state", DeviceEvent::kDeviceState},
           {"device-alive", DeviceEvent::kAlive},
           {"device-connected", DeviceEvent::kConnected},
           {"device-disconnected", DeviceEvent::kDisconnected},
           {"gap", DeviceEvent::kGap},
           {"sensor-reading", DeviceEvent::kGeneric},
           {"Device-State", DeviceEvent::kGeneric},
       }) {
    DeviceEvent event;
    event.set_type(type);
    SetBodyForType(event);
    EXPECT_EQ(event.body_case(), body) << type;
    absl::StatusOr<DeviceEvent> decoded = DecodeEventText(R"({"type":")" + type + R"("})", Dialect::kStandard);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->body_case(), body) << type;
  }
}

TEST(DeviceEventCodec, KnowsWhichTypesOnlyTheBridgeMayProduce) {
  for (absl::string_view type :
       {"device-alive", "device-connected", "device-disconnected", "gap", "device-request", "authenticated", "error"}) {
    EXPECT_TRUE(IsBridgeEventType(type)) << type;
  }
  for (absl::string_view type : {"instances", "instance-state", "device-version", "device-state", "device-response",
                                 "sensor-reading", "", "Device-Alive", "device-alive "}) {
    EXPECT_FALSE(IsBridgeEventType(type)) << type;
  }
}

TEST(DeviceEventCodec, LeavesMissingEnvelopeStringsEmptyAndWritesThemBack) {
  absl::StatusOr<DeviceEvent> decoded = DecodeEventText(R"({"type":"device-version"})", Dialect::kStandard);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->device_id(), "");
  EXPECT_EQ(decoded->service(), "");
  EXPECT_TRUE(decoded->has_device_version());
  EXPECT_TRUE(JsonEqual(R"({"device":"","account":"","service":"","type":"device-version"})",
                        EncodeDeviceEvent(*decoded, Dialect::kStandard)));
}

TEST(DeviceEventCodec, CompactDialectTreatsStandardEnvelopeKeysAsExtra) {
  const std::string json = R"({"dev":"d","acc":"a","svc":"s","typ":"device-alive","adr":"1.2.3.4:5",
                               "device":"other","address":"kept"})";
  absl::StatusOr<DeviceEvent> decoded = DecodeEventText(json, Dialect::kCompact);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->device_id(), "d");
  EXPECT_EQ(decoded->alive().address(), "1.2.3.4:5");
  EXPECT_TRUE(ProtoEqual(StructOf({{"device", JStr("other")}, {"address", JStr("kept")}}), decoded->extra()));
  EXPECT_TRUE(JsonEqual(json, EncodeDeviceEvent(*decoded, Dialect::kCompact)));
}

}  // namespace
}  // namespace hive::codec

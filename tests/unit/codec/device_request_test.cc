#include "bridge/codec/device_request.h"

#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bridge/codec/json_document.h"
#include "clients/loadgen/request_load.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/unit/codec/codec_test_support.h"
#include "tests/unit/codec/json_assertions.h"

namespace hive::codec {
namespace {

using hive::bridge::v1::AppInstanceCommand;
using hive::bridge::v1::Command;
using hive::bridge::v1::DeviceCommand;
using hive::bridge::v1::DeviceRequest;
using hive::bridge::v1::SchedulerAction;
using hive::bridge::v1::UpgradeDevice;
using hive::testing::DecodeRequestText;
using hive::testing::GoldenFileName;
using hive::testing::GoldenPath;
using hive::testing::JBool;
using hive::testing::JList;
using hive::testing::JNum;
using hive::testing::JObj;
using hive::testing::JsonEqual;
using hive::testing::JStr;
using hive::testing::ProtoEqual;
using hive::testing::ReadFile;
using hive::testing::StructOf;

// The seed's example, typed. Its command is the one hive-loadgen sends, so
// the golden test below also proves the load generator sends the seed's.
DeviceRequest SeedSchedulerActionStop() {
  DeviceRequest request;
  request.set_request_id("5e5b0ee5-8774-4ebb-807c-48c9c26c16f8");
  request.set_device_id("d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b");
  request.set_account_id("8813b625-e219-4390-9a7b-fe0e22c9e50b");
  *request.mutable_command() = loadgen::SeedRequest().command();
  auto& state = *request.mutable_state();
  state.set_app_instance_id("ad51b914-688a-4a5f-a073-5c5121a010e2");
  state.set_device_id("d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b");
  state.set_force(false);
  state.set_state(hive::bridge::v1::APP_INSTANCE_STATE_STOPPED);
  return request;
}

TEST(DeviceRequestCodec, EncodesSeedSchedulerActionExactly) {
  absl::StatusOr<std::string> json = EncodeDeviceRequest(SeedSchedulerActionStop(), Dialect::kStandard);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_TRUE(JsonEqual(ReadFile(std::string(HIVE_FIXTURES_DIR) + "/seed_device_request.json"), *json));
}

TEST(DeviceRequestCodec, EncodesBorrowedPartsAsTheWholeRequestInBothDialects) {
  const DeviceRequest seed = SeedSchedulerActionStop();
  for (Dialect dialect : {Dialect::kStandard, Dialect::kCompact}) {
    for (const hive::bridge::v1::ExpectedState* state :
         {&seed.state(), static_cast<decltype(&seed.state())>(nullptr)}) {
      DeviceRequest whole = seed;
      if (state == nullptr) whole.clear_state();
      absl::StatusOr<std::string> from_parts = EncodeDeviceRequest(
          DeviceRequestParts{seed.request_id(), seed.device_id(), seed.account_id(), seed.command(), state}, dialect);
      absl::StatusOr<std::string> from_whole = EncodeDeviceRequest(whole, dialect);
      ASSERT_TRUE(from_parts.ok()) << from_parts.status();
      EXPECT_EQ(*from_parts, *from_whole);
    }
  }
}

// --trace-to-device: the frame gains one last member, `traceparent`, spelled
// alike in both dialects; without it the frame is byte for byte the seed's.
TEST(DeviceRequestCodec, TraceparentIsOneMoreMemberAtTheEndOnlyWhenGiven) {
  const DeviceRequest seed = SeedSchedulerActionStop();
  constexpr absl::string_view kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  for (Dialect dialect : {Dialect::kStandard, Dialect::kCompact}) {
    absl::StatusOr<std::string> plain = EncodeDeviceRequest(seed, dialect);
    absl::StatusOr<std::string> untraced = EncodeDeviceRequest(
        DeviceRequestParts{seed.request_id(), seed.device_id(), seed.account_id(), seed.command(), &seed.state(), ""},
        dialect);
    absl::StatusOr<std::string> traced =
        EncodeDeviceRequest(DeviceRequestParts{seed.request_id(), seed.device_id(), seed.account_id(), seed.command(),
                                               &seed.state(), kTraceparent},
                            dialect);
    ASSERT_TRUE(plain.ok() && untraced.ok() && traced.ok());
    EXPECT_EQ(*untraced, *plain);
    ASSERT_EQ(plain->back(), '}');
    EXPECT_EQ(*traced, absl::StrCat(plain->substr(0, plain->size() - 1), R"(,"traceparent":")", kTraceparent, "\"}"));
    // Read back, it is a member the schema does not name: kept in `extra`.
    absl::StatusOr<DeviceRequest> decoded = DecodeRequestText(*traced, dialect);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->extra().fields().at("traceparent").string_value(), kTraceparent);
  }
  absl::StatusOr<std::string> seed_json = EncodeDeviceRequest(seed, Dialect::kStandard);
  ASSERT_TRUE(seed_json.ok());
  EXPECT_TRUE(JsonEqual(ReadFile(std::string(HIVE_FIXTURES_DIR) + "/seed_device_request.json"), *seed_json));
}

TEST(DeviceRequestCodec, DecodesSeedBackToTheSameMessage) {
  rapidjson::Document doc;
  ASSERT_TRUE(ParseJson(ReadFile(std::string(HIVE_FIXTURES_DIR) + "/seed_device_request.json"), {}, doc).ok());
  JsonPath path;
  absl::StatusOr<DeviceRequest> decoded = DecodeDeviceRequest(doc, Dialect::kStandard, path);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  std::string diff;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differencer.Compare(SeedSchedulerActionStop(), *decoded)) << diff;
}

// One golden pair (hive.v1 and hive.compact.v1) per command kind.

constexpr char kAccount[] = "8813b625-e219-4390-9a7b-fe0e22c9e50b";
constexpr char kDevice[] = "d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b";
constexpr char kRequest[] = "5e5b0ee5-8774-4ebb-807c-48c9c26c16f8";
constexpr char kInstance[] = "ad51b914-688a-4a5f-a073-5c5121a010e2";
constexpr double kTwoTo64 = 18446744073709551616.0;  // nearest double of 2^64 - 1

DeviceRequest Envelope() {
  DeviceRequest request;
  request.set_request_id(kRequest);
  request.set_device_id(kDevice);
  request.set_account_id(kAccount);
  return request;
}

// Unknown members at the top level and in the payload survive.
DeviceRequest UpgradeDeviceRequest() {
  DeviceRequest request = Envelope();
  UpgradeDevice& upgrade = *request.mutable_command()->mutable_upgrade_device();
  upgrade.set_action(UpgradeDevice::ACTION_UPGRADE);
  upgrade.set_version("2.4.1");
  upgrade.set_force(true);
  *upgrade.mutable_extra() =
      StructOf({{"channel", JStr("stable")}, {"window", JObj({{"start", JStr("02:00")}, {"end", JStr("04:00")}})}});
  *request.mutable_extra() = StructOf({{"trace_id", JStr("4bf92f3577b34da6")}});
  return request;
}

// A uint64-max literal inside a Struct field of the command.
DeviceRequest DeviceCommandRequest() {
  DeviceRequest request = Envelope();
  DeviceCommand& command = *request.mutable_command()->mutable_device_command();
  command.set_action(DeviceCommand::ACTION_CHECK_DISK_SPACE);
  *command.mutable_arguments() = StructOf({{"path", JStr("/var/lib/hive")},
                                           {"threshold_bytes", JNum(kTwoTo64)},
                                           {"units", JList({JStr("B"), JStr("KiB")})}});
  (*command.mutable_exact_numbers())["/arguments/threshold_bytes"] = "18446744073709551615";
  return request;
}

// Every SchedulerAction field, unknown members nested in application, in a
// link and in state, and an exact number inside storage_apikeys.
DeviceRequest SchedulerActionStartRequest() {
  DeviceRequest request = Envelope();
  SchedulerAction& action = *request.mutable_command()->mutable_scheduler_action();
  action.set_action(SchedulerAction::ACTION_START);
  action.set_account(kAccount);
  auto& application = *action.mutable_application();
  application.set_appstore("Fractal App Store");
  application.set_name("wikijs");
  application.set_version("2.5.201");
  *application.mutable_extra() =
      StructOf({{"digest", JStr("sha256:9f86d081884c7d65")}, {"labels", JObj({{"tier", JStr("free")}})}});
  action.set_encrypted_storage_apikeys("c2VjcmV0LWtleXM=");
  action.set_instance(kInstance);
  auto& default_link = (*action.mutable_links())["default"];
  default_link.set_domain("");
  default_link.set_token("3336a31e-dfa0-4681-ae4e-5f8c466f7024");
  auto& admin_link = (*action.mutable_links())["admin"];
  admin_link.set_domain("admin.example.org");
  admin_link.set_token("0b8f6a7e-1c52-4f7e-9d0c-2b5e8a1f4c33");
  *admin_link.mutable_extra() = StructOf({{"expires_at", JNum(1767225600)}});
  *action.mutable_storage_apikeys() =
      StructOf({{"s3", JObj({{"access_key", JStr("AKIAEXAMPLE")}, {"quota_bytes", JNum(kTwoTo64)}})}});
  (*action.mutable_exact_numbers())["/storage_apikeys/s3/quota_bytes"] = "18446744073709551615";
  *action.mutable_extra() = StructOf({{"priority", JNum(5)}});
  auto& state = *request.mutable_state();
  state.set_app_instance_id(kInstance);
  state.set_device_id(kDevice);
  state.set_force(true);
  state.set_state(hive::bridge::v1::APP_INSTANCE_STATE_RUNNING);
  *state.mutable_extra() = StructOf({{"reason", JStr("user request")}});
  *request.mutable_extra() =
      StructOf({{"trace", JObj({{"id", JStr("4bf92f3577b34da6a3ce929d0e0e4736")}, {"sampled", JBool(true)}})}});
  return request;
}

DeviceRequest AppInstanceCreateUserRequest() {
  DeviceRequest request = Envelope();
  AppInstanceCommand& command = *request.mutable_command()->mutable_app_instance_command();
  command.set_action(AppInstanceCommand::ACTION_CREATE_USER);
  command.set_account(kAccount);
  command.set_instance(kInstance);
  *command.mutable_arguments() = StructOf({{"username", JStr("alice")},
                                           {"display_name", JStr("Alice Ågren")},
                                           {"admin", JBool(false)},
                                           {"rooms", JList({JStr("#general"), JStr("#random")})}});
  return request;
}

// A command the schema does not know; its payload keys are never renamed,
// not even "name" in the compact dialect.
DeviceRequest RawCommandRequest() {
  DeviceRequest request = Envelope();
  auto& raw = *request.mutable_command()->mutable_raw();
  raw.set_command("Diagnostics.collect_logs");
  *raw.mutable_payload() = StructOf({{"since", JStr("2024-01-01T00:00:00Z")},
                                     {"lines", JNum(500)},
                                     {"name", JStr("journal")},
                                     {"sequence", JNum(9007199254740992.0)}});
  (*raw.mutable_payload_exact_numbers())["/sequence"] = "9007199254740993";
  return request;
}

using RequestGolden = hive::testing::Golden<DeviceRequest>;

const RequestGolden kRequestGoldens[] = {
    {"request_upgrade_device", &UpgradeDeviceRequest, {}},
    {"request_device_command", &DeviceCommandRequest, {"18446744073709551615"}},
    {"request_scheduler_action_start", &SchedulerActionStartRequest, {"18446744073709551615"}},
    {"request_app_instance_command", &AppInstanceCreateUserRequest, {}},
    {"request_raw_command", &RawCommandRequest, {"9007199254740993"}},
};

class DeviceRequestGolden : public ::testing::TestWithParam<std::tuple<RequestGolden, Dialect>> {
 protected:
  const RequestGolden& golden() const { return std::get<0>(GetParam()); }
  Dialect dialect() const { return std::get<1>(GetParam()); }
  std::string GoldenText() const { return ReadFile(GoldenPath(GoldenFileName(golden().stem, dialect()))); }
};

TEST_P(DeviceRequestGolden, EncodesToTheGoldenFile) {
  absl::StatusOr<std::string> json = EncodeDeviceRequest(golden().build(), dialect());
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_TRUE(JsonEqual(GoldenText(), *json));
  for (const std::string& literal : golden().exact_literals) {
    EXPECT_TRUE(absl::StrContains(*json, literal)) << literal << " not written exactly in " << *json;
  }
}

TEST_P(DeviceRequestGolden, DecodesTheGoldenFileToTheTypedMessage) {
  absl::StatusOr<DeviceRequest> decoded = DecodeRequestText(GoldenText(), dialect());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(ProtoEqual(golden().build(), *decoded));
}

INSTANTIATE_TEST_SUITE_P(DeviceRequestCodec, DeviceRequestGolden,
                         ::testing::Combine(::testing::ValuesIn(kRequestGoldens),
                                            ::testing::Values(Dialect::kStandard, Dialect::kCompact)),
                         hive::testing::GoldenCaseName());

// The wire command of every typed action, and the errors of WireCommandOf.

TEST(DeviceRequestCodec, WireCommandNamesEveryTypedAction) {
  Command command;
  command.mutable_upgrade_device()->set_action(UpgradeDevice::ACTION_UPGRADE);
  EXPECT_EQ(WireCommandOf(command).value_or("?"), "UpgradeDevice.upgrade");
  command.mutable_device_command()->set_action(DeviceCommand::ACTION_CHECK_DISK_SPACE);
  EXPECT_EQ(WireCommandOf(command).value_or("?"), "DeviceCommand.check_disk_space");
  command.mutable_device_command()->set_action(DeviceCommand::ACTION_REBOOT);
  EXPECT_EQ(WireCommandOf(command).value_or("?"), "DeviceCommand.reboot");
  command.mutable_scheduler_action()->set_action(SchedulerAction::ACTION_START);
  EXPECT_EQ(WireCommandOf(command).value_or("?"), "SchedulerAction.start");
  command.mutable_scheduler_action()->set_action(SchedulerAction::ACTION_STOP);
  EXPECT_EQ(WireCommandOf(command).value_or("?"), "SchedulerAction.stop");
  command.mutable_app_instance_command()->set_action(AppInstanceCommand::ACTION_CREATE_USER);
  EXPECT_EQ(WireCommandOf(command).value_or("?"), "AppInstanceCommand.create_user");
  command.mutable_app_instance_command()->set_action(AppInstanceCommand::ACTION_CONFIGURE);
  EXPECT_EQ(WireCommandOf(command).value_or("?"), "AppInstanceCommand.configure");
  command.mutable_raw()->set_command("Vendor.anything");
  EXPECT_EQ(WireCommandOf(command).value_or("?"), "Vendor.anything");
}

TEST(DeviceRequestCodec, WireCommandRefusesACommandWithNoKind) {
  absl::StatusOr<std::string> wire = WireCommandOf(Command());
  EXPECT_EQ(wire.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(wire.status().message(), "command: no command kind is set");
}

TEST(DeviceRequestCodec, WireCommandRefusesAnUnspecifiedAction) {
  Command command;
  command.mutable_scheduler_action()->set_account(kAccount);
  absl::StatusOr<std::string> wire = WireCommandOf(command);
  EXPECT_EQ(wire.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(wire.status().message(), "command.SchedulerAction.action: must be set (one of ACTION_START, ACTION_STOP)");
}

TEST(DeviceRequestCodec, WireCommandRefusesAnEmptyRawCommand) {
  Command command;
  command.mutable_raw()->mutable_payload();
  absl::StatusOr<std::string> wire = WireCommandOf(command);
  EXPECT_EQ(wire.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(wire.status().message(), "command.raw.command: must not be empty");
}

TEST(DeviceRequestCodec, EncodeFailsWhereWireCommandFails) {
  DeviceRequest request = Envelope();
  request.mutable_command()->mutable_upgrade_device()->set_version("1.0");
  absl::StatusOr<std::string> json = EncodeDeviceRequest(request, Dialect::kStandard);
  EXPECT_EQ(json.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(json.status().message(), "command.UpgradeDevice.action: must be set (one of ACTION_UPGRADE)");
}

TEST(DeviceRequestCodec, WritesStateOnlyWhenSet) {
  DeviceRequest request = AppInstanceCreateUserRequest();
  absl::StatusOr<std::string> without = EncodeDeviceRequest(request, Dialect::kStandard);
  ASSERT_TRUE(without.ok()) << without.status();
  EXPECT_FALSE(absl::StrContains(*without, "\"state\"")) << *without;
  request.mutable_state();
  absl::StatusOr<std::string> with = EncodeDeviceRequest(request, Dialect::kStandard);
  ASSERT_TRUE(with.ok()) << with.status();
  EXPECT_TRUE(absl::StrContains(*with, "\"state\":{}")) << *with;
}

TEST(DeviceRequestCodec, DecodesAnUnknownActionOfAKnownKindIntoARawCommand) {
  absl::StatusOr<DeviceRequest> decoded = DecodeRequestText(
      R"({"account":"a","command":"SchedulerAction.pause","type":"device-request","service":"hive-backend",
          "request":"r","device":"d","payload":{"instance":"i","application":{"name":"x"}}})",
      Dialect::kStandard);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_TRUE(decoded->command().has_raw()) << decoded->DebugString();
  EXPECT_EQ(decoded->command().raw().command(), "SchedulerAction.pause");
  EXPECT_TRUE(ProtoEqual(StructOf({{"instance", JStr("i")}, {"application", JObj({{"name", JStr("x")}})}}),
                         decoded->command().raw().payload()));
}

// Found by fuzz/device_request_fuzzer: the encoder writes "payload":{} for
// a raw command without one, which decoded as a set payload.
TEST(DeviceRequestCodec, ReadsAnAbsentRawPayloadAsEmptySoItRoundTrips) {
  absl::StatusOr<DeviceRequest> decoded = DecodeRequestText(
      R"({"account":"a","command":"Diagnostics.collect_logs","type":"device-request","request":"r","device":"d"})",
      Dialect::kStandard);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(decoded->command().raw().has_payload());
  absl::StatusOr<std::string> encoded = EncodeDeviceRequest(*decoded, Dialect::kStandard);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  absl::StatusOr<DeviceRequest> again = DecodeRequestText(*encoded, Dialect::kStandard);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(ProtoEqual(*decoded, *again));
}

TEST(DeviceRequestCodec, CompactDialectKeepsStandardSpelledKeysAsExtra) {
  // In hive.compact.v1 "version" is not a schema key: it is an unknown
  // member and must come back out unchanged, beside "ver".
  const std::string json =
      R"({"acc":"a","cmd":"UpgradeDevice.upgrade","typ":"device-request","svc":"hive-backend","req":"r","dev":"d",
          "dat":{"ver":"2.0","version":"legacy"},"request":"not-the-envelope"})";
  absl::StatusOr<DeviceRequest> decoded = DecodeRequestText(json, Dialect::kCompact);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->command().upgrade_device().version(), "2.0");
  EXPECT_TRUE(ProtoEqual(StructOf({{"version", JStr("legacy")}}), decoded->command().upgrade_device().extra()));
  EXPECT_TRUE(ProtoEqual(StructOf({{"request", JStr("not-the-envelope")}}), decoded->extra()));
  absl::StatusOr<std::string> encoded = EncodeDeviceRequest(*decoded, Dialect::kCompact);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_TRUE(JsonEqual(json, *encoded));
}

TEST(DeviceRequestCodec, EncodesTheSeedIdenticallyInBothDialectsUpToKeys) {
  absl::StatusOr<std::string> compact = EncodeDeviceRequest(SeedSchedulerActionStop(), Dialect::kCompact);
  ASSERT_TRUE(compact.ok()) << compact.status();
  absl::StatusOr<DeviceRequest> decoded = DecodeRequestText(*compact, Dialect::kCompact);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(ProtoEqual(SeedSchedulerActionStop(), *decoded));
  EXPECT_TRUE(absl::StrContains(*compact, R"("cmd":"SchedulerAction.stop")")) << *compact;
  EXPECT_TRUE(absl::StrContains(*compact, R"("sta":"AppInstanceState.stopped")")) << *compact;
}

}  // namespace
}  // namespace hive::codec

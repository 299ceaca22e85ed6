// A backend's `extra` keys must not spell a typed field of the same object in
// either dialect: the device would get that key twice (or, in the other
// dialect, a field where the backend meant an extra). Refused before anything
// is sent, naming the key and the field.
#include <string>

#include "absl/status/status.h"
#include "bridge/codec/device_request.h"
#include "gtest/gtest.h"
#include "tests/unit/codec/codec_test_support.h"
#include "tests/unit/codec/json_assertions.h"

namespace hive::codec {
namespace {

using hive::bridge::v1::Command;
using hive::bridge::v1::DeviceRequest;
using hive::testing::JStr;

Command StopWithExtra(const std::string& key) {
  Command command;
  auto& stop = *command.mutable_scheduler_action();
  stop.set_action(hive::bridge::v1::SchedulerAction::ACTION_STOP);
  stop.mutable_application()->set_name("wikijs");
  (*stop.mutable_extra()->mutable_fields())[key] = JStr("x");
  return command;
}

TEST(ExtraKeyCollision, AStandardFieldNameInExtraIsRefusedNamingKeyAndField) {
  absl::StatusOr<std::string> wire = WireCommandOf(StopWithExtra("application"));
  ASSERT_FALSE(wire.ok());
  EXPECT_EQ(wire.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(wire.status().message(),
            R"(command.SchedulerAction.extra: key "application" collides with the field application, so the device )"
            "would get it twice; set the field instead");
}

TEST(ExtraKeyCollision, ACompactCodeInExtraIsRefusedWhateverTheDevicesDialect) {
  absl::StatusOr<std::string> wire = WireCommandOf(StopWithExtra("app"));
  ASSERT_FALSE(wire.ok());
  EXPECT_EQ(wire.status().message(),
            R"(command.SchedulerAction.extra: key "app" collides with the field application (its compact-dialect )"
            "key), so the device would get it twice; set the field instead");
}

TEST(ExtraKeyCollision, AnUnsetFieldsNameIsRefusedToo) {
  // Written alone it would read back as the typed field, not as an extra.
  absl::StatusOr<std::string> wire = WireCommandOf(StopWithExtra("instance"));
  ASSERT_FALSE(wire.ok());
  EXPECT_NE(wire.status().message().find(R"(key "instance" collides with the field instance)"), std::string::npos)
      << wire.status();
}

TEST(ExtraKeyCollision, ChecksNestedMessagesAndMapValues) {
  Command nested = StopWithExtra("note");
  (*nested.mutable_scheduler_action()->mutable_application()->mutable_extra()->mutable_fields())["ver"] = JStr("1");
  absl::StatusOr<std::string> wire = WireCommandOf(nested);
  ASSERT_FALSE(wire.ok());
  EXPECT_EQ(wire.status().message(),
            R"(command.SchedulerAction.application.extra: key "ver" collides with the field version (its )"
            "compact-dialect key), so the device would get it twice; set the field instead");

  Command linked = StopWithExtra("note");
  auto& link = (*linked.mutable_scheduler_action()->mutable_links())["default"];
  (*link.mutable_extra()->mutable_fields())["token"] = JStr("t");
  wire = WireCommandOf(linked);
  ASSERT_FALSE(wire.ok());
  EXPECT_NE(wire.status().message().find(R"(command.SchedulerAction.links.default.extra: key "token")"),
            std::string::npos)
      << wire.status();
}

TEST(ExtraKeyCollision, NamesTheSmallestCollidingKeySoTheMessageIsStable) {
  Command command = StopWithExtra("links");
  (*command.mutable_scheduler_action()->mutable_extra()->mutable_fields())["account"] = JStr("a");
  (*command.mutable_scheduler_action()->mutable_extra()->mutable_fields())["ins"] = JStr("i");
  absl::StatusOr<std::string> wire = WireCommandOf(command);
  ASSERT_FALSE(wire.ok());
  EXPECT_NE(wire.status().message().find(R"(key "account")"), std::string::npos) << wire.status();
}

TEST(ExtraKeyCollision, OtherExtraKeysAndTheActionNameStillTravel) {
  Command command = StopWithExtra("priority");
  // `action` is no payload member (it travels in `command`), so no collision.
  (*command.mutable_scheduler_action()->mutable_extra()->mutable_fields())["action"] = JStr("kept");
  ASSERT_TRUE(WireCommandOf(command).ok());
  DeviceRequest request;
  request.set_request_id("r");
  request.set_device_id("d");
  request.set_account_id("a");
  *request.mutable_command() = command;
  for (Dialect dialect : {Dialect::kStandard, Dialect::kCompact}) {
    absl::StatusOr<std::string> json = EncodeDeviceRequest(request, dialect);
    ASSERT_TRUE(json.ok()) << json.status();
    EXPECT_NE(json->find(R"("priority":"x")"), std::string::npos) << *json;
    EXPECT_NE(json->find(R"("action":"kept")"), std::string::npos) << *json;
  }
}

TEST(ExtraKeyCollision, ABackendsStateExtraKeyIsRefusedInEitherDialect) {
  const Command command = StopWithExtra("priority");
  hive::bridge::v1::ExpectedState state;
  (*state.mutable_extra()->mutable_fields())["frc"] = JStr("yes");
  for (Dialect dialect : {Dialect::kStandard, Dialect::kCompact}) {
    absl::StatusOr<std::string> json = EncodeDeviceRequest(DeviceRequestParts{"r", "d", "a", command, &state}, dialect);
    ASSERT_FALSE(json.ok()) << *json;
    EXPECT_EQ(json.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(json.status().message(),
              R"(state.extra: key "frc" collides with the field force (its compact-dialect key), so the device would )"
              "get it twice; set the field instead");
  }
}

TEST(ExtraKeyCollision, ARequestReadBackIsCheckedOnlyInTheDialectItIsWrittenIn) {
  // What a compact device read (DecodeDeviceRequest) keeps a standard
  // spelling in `extra`; written in the compact dialect it appears once.
  DeviceRequest request;
  request.set_request_id("r");
  request.set_device_id("d");
  request.set_account_id("a");
  *request.mutable_command() = StopWithExtra("priority");
  (*request.mutable_state()->mutable_extra()->mutable_fields())["force"] = JStr("yes");
  EXPECT_TRUE(EncodeDeviceRequest(request, Dialect::kCompact).ok());
  absl::StatusOr<std::string> standard = EncodeDeviceRequest(request, Dialect::kStandard);
  ASSERT_FALSE(standard.ok()) << *standard;
  EXPECT_EQ(standard.status().message(),
            R"(state.extra: key "force" collides with the field force, so the device would get it twice; set the )"
            "field instead");
}

TEST(ExtraKeyCollision, ARawCommandsPayloadIsFreeForm) {
  Command command;
  command.mutable_raw()->set_command("Vendor.thing");
  (*command.mutable_raw()->mutable_payload()->mutable_fields())["application"] = JStr("x");
  EXPECT_TRUE(WireCommandOf(command).ok());
}

}  // namespace
}  // namespace hive::codec

#include "bridge/codec/device_request.h"

#include "bridge/codec/json_document.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/unit/codec/json_assertions.h"

namespace hive::codec {
namespace {

using hive::bridge::v1::AppInstanceState;
using hive::bridge::v1::DeviceRequest;
using hive::bridge::v1::SchedulerAction;
using hive::testing::JsonEqual;
using hive::testing::ReadFile;

// The seed's example, typed.
DeviceRequest SeedSchedulerActionStop() {
  DeviceRequest request;
  request.set_request_id("5e5b0ee5-8774-4ebb-807c-48c9c26c16f8");
  request.set_device_id("d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b");
  request.set_account_id("8813b625-e219-4390-9a7b-fe0e22c9e50b");
  SchedulerAction& action = *request.mutable_command()->mutable_scheduler_action();
  action.set_action(SchedulerAction::ACTION_STOP);
  action.set_account("8813b625-e219-4390-9a7b-fe0e22c9e50b");
  action.mutable_application()->set_appstore("Fractal App Store");
  action.mutable_application()->set_name("wikijs");
  action.mutable_application()->set_version("latest");
  action.set_encrypted_storage_apikeys(
      "DGJEKsFCYCkbzvlsmXivwvEZU5M0BRgROSjloYwF19w87b+Q1pE856jAHF9V4a5OYWo8GTvKIAiB32qlB+EpLp+uN8+qrhGAklAfa/"
      "CBoy2u8isbfiU4LD5kDupHzKbp2Tn2LnOAnuqc6Vi2Sia/LT+ehLkzo+CI4G2Z6uCNxGIEJGGR5xQAheBJQF55LhIAQejQuwbALA==");
  action.set_instance("ad51b914-688a-4a5f-a073-5c5121a010e2");
  auto& link = (*action.mutable_links())["default"];
  link.set_domain("");
  link.set_token("3336a31e-dfa0-4681-ae4e-5f8c466f7024");
  action.mutable_storage_apikeys();
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

}  // namespace
}  // namespace hive::codec

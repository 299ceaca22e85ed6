#include "bridge/codec/device_event.h"

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/codec/compact_keys.h"
#include "bridge/codec/json_document.h"
#include "bridge/codec/json_writer.h"
#include "bridge/codec/message_json.h"

namespace hive::codec {
namespace {

using hive::bridge::v1::DeviceEvent;

// The wire `type` of each typed body; an event's body field is found by it.
constexpr std::array<std::pair<absl::string_view, int>, 8> kBodyByType = {{
    {"instances", DeviceEvent::kInstancesFieldNumber},
    {"instance-state", DeviceEvent::kInstanceStateFieldNumber},
    {"device-version", DeviceEvent::kDeviceVersionFieldNumber},
    {"device-state", DeviceEvent::kDeviceStateFieldNumber},
    {"device-alive", DeviceEvent::kAliveFieldNumber},
    {"device-connected", DeviceEvent::kConnectedFieldNumber},
    {"device-disconnected", DeviceEvent::kDisconnectedFieldNumber},
    {"gap", DeviceEvent::kGapFieldNumber},
}};

int BodyFieldNumberFor(absl::string_view type) {
  for (const auto& [name, number] : kBodyByType) {
    if (name == type) return number;
  }
  return DeviceEvent::kGenericFieldNumber;
}

google::protobuf::Message* MutableBody(DeviceEvent& event) {
  const auto* field = DeviceEvent::descriptor()->FindFieldByNumber(BodyFieldNumberFor(event.type()));
  return event.GetReflection()->MutableMessage(&event, field);
}

const google::protobuf::Message* BodyOf(const DeviceEvent& event) {
  const auto* oneof = DeviceEvent::descriptor()->FindOneofByName("body");
  const auto* field = event.GetReflection()->GetOneofFieldDescriptor(event, oneof);
  return field == nullptr ? nullptr : &event.GetReflection()->GetMessage(event, field);
}

bool IsEnvelopeKey(absl::string_view key, Dialect dialect) {
  for (absl::string_view standard : {"device", "account", "service", "type"}) {
    if (key == WireKey(standard, dialect)) return true;
  }
  return false;
}

absl::Status ReadOptionalString(const rapidjson::Value& object, absl::string_view standard_key, Dialect dialect,
                                JsonPath& path, std::string* out) {
  const rapidjson::Value* value = FindMember(object, WireKey(standard_key, dialect));
  if (value == nullptr) return absl::OkStatus();
  if (!value->IsString()) {
    auto scope = path.Key(standard_key);
    return path.Error(absl::StrCat("expected string, got ", DescribeJson(*value)));
  }
  out->assign(value->GetString(), value->GetStringLength());
  return absl::OkStatus();
}

}  // namespace

bool IsBridgeEventType(absl::string_view type) {
  return type == "device-alive" || type == "device-connected" || type == "device-disconnected" || type == "gap" ||
         type == "device-request" || type == "authenticated" || type == "error";
}

void SetBodyForType(DeviceEvent& event) { MutableBody(event); }

absl::StatusOr<DeviceEvent> DecodeDeviceEvent(const rapidjson::Value& object, Dialect dialect, JsonPath& path) {
  if (!object.IsObject()) return path.Error(absl::StrCat("expected object, got ", DescribeJson(object)));
  DeviceEvent event;
  const rapidjson::Value* type = FindMember(object, WireKey("type", dialect));
  if (type == nullptr) {
    auto scope = path.Key("type");
    return path.Error("missing");
  }
  if (!type->IsString() || type->GetStringLength() == 0) {
    auto scope = path.Key("type");
    return path.Error(absl::StrCat("expected non-empty string, got ", DescribeJson(*type)));
  }
  event.set_type(type->GetString(), type->GetStringLength());
  for (auto [key, out] :
       {std::pair{"device", event.mutable_device_id()}, std::pair{"account", event.mutable_account_id()},
        std::pair{"service", event.mutable_service()}}) {
    if (absl::Status status = ReadOptionalString(object, key, dialect, path, out); !status.ok()) return status;
  }
  absl::Status status = ReadMembers(
      object, MutableBody(event), &event, [dialect](absl::string_view key) { return IsEnvelopeKey(key, dialect); },
      dialect, path);
  if (!status.ok()) return status;
  return event;
}

std::string EncodeDeviceEvent(const DeviceEvent& event, Dialect dialect) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  WriteKey(writer, WireKey("device", dialect));
  WriteString(writer, event.device_id());
  WriteKey(writer, WireKey("account", dialect));
  WriteString(writer, event.account_id());
  WriteKey(writer, WireKey("service", dialect));
  WriteString(writer, event.service());
  WriteKey(writer, WireKey("type", dialect));
  WriteString(writer, event.type());
  WriteMembers(BodyOf(event), &event, dialect, writer);
  writer.EndObject();
  return ToString(buffer);
}

}  // namespace hive::codec

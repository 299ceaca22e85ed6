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
constexpr std::array<std::pair<absl::string_view, int>, 10> kBodyByType = {{
    {"instances", DeviceEvent::kInstancesFieldNumber},
    {"instance-state", DeviceEvent::kInstanceStateFieldNumber},
    {"device-version", DeviceEvent::kDeviceVersionFieldNumber},
    {"device-state", DeviceEvent::kDeviceStateFieldNumber},
    {"device-alive", DeviceEvent::kAliveFieldNumber},
    {"device-connected", DeviceEvent::kConnectedFieldNumber},
    {"device-disconnected", DeviceEvent::kDisconnectedFieldNumber},
    {"gap", DeviceEvent::kGapFieldNumber},
    {"request-outcome", DeviceEvent::kRequestOutcomeFieldNumber},
    {"job-outcome", DeviceEvent::kJobOutcomeFieldNumber},
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

// Reads the envelope's strings into `event`. One that is not a string is
// left out (the bridge overwrites device, account and service of a device's
// event anyway), and the first such is returned as a schema error.
std::string ReadEnvelope(const rapidjson::Value& object, Dialect dialect, DeviceEvent& event) {
  std::string schema_error;
  for (auto [key, out] :
       {std::pair{"device", event.mutable_device_id()}, std::pair{"account", event.mutable_account_id()},
        std::pair{"service", event.mutable_service()}}) {
    const rapidjson::Value* value = FindMember(object, WireKey(key, dialect));
    if (value == nullptr) continue;
    if (value->IsString()) {
      out->assign(value->GetString(), value->GetStringLength());
    } else if (schema_error.empty()) {
      schema_error = absl::StrCat(key, ": expected string, got ", DescribeJson(*value));
    }
  }
  return schema_error;
}

absl::Status ReadBody(const rapidjson::Value& object, google::protobuf::Message* body, Dialect dialect, JsonPath& path,
                      DeviceEvent& event) {
  return ReadMembers(
      object, body, &event, [dialect](absl::string_view key) { return IsEnvelopeKey(key, dialect); }, dialect, path);
}

}  // namespace

bool IsKnownDeviceEventType(absl::string_view type) {
  return BodyFieldNumberFor(type) != DeviceEvent::kGenericFieldNumber && !IsBridgeEventType(type);
}

bool IsBridgeEventType(absl::string_view type) {
  return type == "device-alive" || type == "device-connected" || type == "device-disconnected" || type == "gap" ||
         type == "device-request" || type == "authenticated" || type == "error" || type == "request-outcome" ||
         type == "job-outcome";
}

void SetBodyForType(DeviceEvent& event) { MutableBody(event); }

absl::StatusOr<DeviceEvent> DecodeDeviceEvent(const rapidjson::Value& object, Dialect dialect, JsonPath& path) {
  if (!object.IsObject()) return path.Error(absl::StrCat("expected object, got ", DescribeJson(object)));
  const rapidjson::Value* type = FindMember(object, WireKey("type", dialect));
  if (type == nullptr) {
    auto scope = path.Key("type");
    return path.Error("missing");
  }
  if (!type->IsString() || type->GetStringLength() == 0) {
    auto scope = path.Key("type");
    return path.Error(absl::StrCat("expected non-empty string, got ", DescribeJson(*type)));
  }
  DeviceEvent event;
  event.set_type(type->GetString(), type->GetStringLength());
  const std::string envelope_error = ReadEnvelope(object, dialect, event);
  // The typed reading is strict, on a path of its own: its error, relative to
  // the event object, becomes the schema_error of the generic fallback.
  JsonPath typed_path;
  absl::Status typed = ReadBody(object, MutableBody(event), dialect, typed_path, event);
  if (typed.ok()) {
    if (!envelope_error.empty()) event.set_schema_error(envelope_error);
    return event;
  }
  // Again with the generic body: every member in `extra`, as sent. What fails
  // here too (a duplicate key) is no misfit but an object that cannot be
  // read; it is reported on the caller's path, which locates it in its frame.
  DeviceEvent generic;
  generic.set_type(event.type());
  generic.set_device_id(event.device_id());
  generic.set_account_id(event.account_id());
  generic.set_service(event.service());
  if (absl::Status status = ReadBody(object, generic.mutable_generic(), dialect, path, generic); !status.ok()) {
    return status;
  }
  generic.set_schema_error(std::string(typed.message()));
  return generic;
}

std::string EncodeDeviceEvent(const DeviceEvent& event, Dialect dialect) {
  JsonText json(512);
  JsonWriter& writer = json.writer();
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
  return std::move(json).Take();
}

}  // namespace hive::codec

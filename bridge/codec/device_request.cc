#include "bridge/codec/device_request.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/codec/compact_keys.h"
#include "bridge/codec/device_event.h"
#include "bridge/codec/json_document.h"
#include "bridge/codec/json_writer.h"
#include "bridge/codec/message_json.h"
#include "bridge/codec/struct_json.h"

namespace hive::codec {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using hive::bridge::v1::Command;
using hive::bridge::v1::DeviceRequest;

constexpr absl::string_view kDeviceRequestType = "device-request";
constexpr absl::string_view kTraceparentKey = "traceparent";

// The typed command message set in `command`, or null (raw or unset).
const Message* TypedCommandOf(const Command& command) {
  const auto* oneof = Command::descriptor()->FindOneofByName("kind");
  const FieldDescriptor* field = command.GetReflection()->GetOneofFieldDescriptor(command, oneof);
  if (field == nullptr || field->number() == Command::kRawFieldNumber) return nullptr;
  return &command.GetReflection()->GetMessage(command, field);
}

const FieldDescriptor& ActionFieldOf(const Message& typed) { return *typed.GetDescriptor()->FindFieldByName("action"); }

// Makes `command` the typed command that `wire_command` names, or returns
// null when the schema has no such kind and action.
Message* SelectTypedCommand(absl::string_view wire_command, Command& command) {
  const size_t dot = wire_command.find('.');
  if (dot == absl::string_view::npos) return nullptr;
  absl::string_view kind = wire_command.substr(0, dot);
  const auto* oneof = Command::descriptor()->FindOneofByName("kind");
  for (int i = 0; i < oneof->field_count(); ++i) {
    const FieldDescriptor* field = oneof->field(i);
    if (field->number() == Command::kRawFieldNumber || field->message_type()->name() != kind) continue;
    const FieldDescriptor* action = field->message_type()->FindFieldByName("action");
    const auto* value = EnumValueOfWireName(*action->enum_type(), wire_command);
    if (value == nullptr) return nullptr;
    Message* typed = command.GetReflection()->MutableMessage(&command, field);
    typed->GetReflection()->SetEnum(typed, action, value);
    return typed;
  }
  return nullptr;
}

bool IsEnvelopeKey(absl::string_view key, Dialect dialect) {
  for (absl::string_view standard :
       {"account", "command", "type", "service", "request", "device", "payload", "state"}) {
    if (key == WireKey(standard, dialect)) return true;
  }
  return false;
}

absl::StatusOr<absl::string_view> RequiredString(const rapidjson::Value& object, absl::string_view standard_key,
                                                 Dialect dialect, JsonPath& path) {
  const rapidjson::Value* value = FindMember(object, WireKey(standard_key, dialect));
  auto scope = path.Key(standard_key);
  if (value == nullptr) return path.Error("missing");
  if (!value->IsString()) return path.Error(absl::StrCat("expected string, got ", DescribeJson(*value)));
  return ViewOf(*value);
}

// The wire command of `command` ("SchedulerAction.stop"), or what is missing.
absl::StatusOr<std::string> WireCommandName(const Command& command) {
  if (command.has_raw()) {
    if (command.raw().command().empty()) return absl::InvalidArgumentError("command.raw.command: must not be empty");
    return command.raw().command();
  }
  const Message* typed = TypedCommandOf(command);
  if (typed == nullptr) return absl::InvalidArgumentError("command: no command kind is set");
  const FieldDescriptor& action = ActionFieldOf(*typed);
  const auto* value = typed->GetReflection()->GetEnum(*typed, &action);
  if (value->number() == 0) {
    std::string known;
    for (int i = 1; i < action.enum_type()->value_count(); ++i) {
      absl::StrAppend(&known, i > 1 ? ", " : "", action.enum_type()->value(i)->name());
    }
    return absl::InvalidArgumentError(
        absl::StrCat("command.", typed->GetDescriptor()->name(), ".action: must be set (one of ", known, ")"));
  }
  return std::string(EnumWireName(*value));
}

// The typed command's `extra` keys against its fields' keys in `dialects`,
// named like the action's errors: "command.SchedulerAction.extra: ...".
absl::Status CheckCommandExtraKeys(const Command& command, absl::Span<const Dialect> dialects) {
  const Message* typed = TypedCommandOf(command);
  if (typed == nullptr) return absl::OkStatus();
  JsonPath path;
  auto in_command = path.Key("command");
  auto in_kind = path.Key(typed->GetDescriptor()->name());
  return CheckExtraKeys(*typed, dialects, path);
}

// `extra_owner`, when set, contributes its `extra` members.
absl::StatusOr<std::string> EncodeRequest(const DeviceRequestParts& request, const DeviceRequest* extra_owner,
                                          Dialect dialect) {
  absl::StatusOr<std::string> command = WireCommandName(request.command);
  if (!command.ok()) return command.status();
  // A backend's request (the parts, without extra_owner) must be writable in
  // both dialects, as WireCommandOf checks it before it is sent. A request
  // read back from a device frame only in the dialect written: a compact one
  // may keep a standard spelling in `extra`, which the compact dialect
  // writes once.
  const Dialect both[] = {Dialect::kStandard, Dialect::kCompact};
  const Dialect written[] = {dialect};
  const absl::Span<const Dialect> checked = extra_owner == nullptr ? absl::Span<const Dialect>(both) : written;
  if (absl::Status status = CheckCommandExtraKeys(request.command, checked); !status.ok()) return status;
  if (request.state != nullptr) {
    JsonPath path;
    auto scope = path.Key("state");
    if (absl::Status status = CheckExtraKeys(*request.state, checked, path); !status.ok()) return status;
  }
  JsonText json(512);
  JsonWriter& writer = json.writer();
  writer.StartObject();
  WriteKey(writer, WireKey("account", dialect));
  WriteString(writer, request.account_id);
  WriteKey(writer, WireKey("command", dialect));
  WriteString(writer, *command);
  WriteKey(writer, WireKey("type", dialect));
  WriteString(writer, kDeviceRequestType);
  WriteKey(writer, WireKey("service", dialect));
  WriteString(writer, kBackendService);
  WriteKey(writer, WireKey("request", dialect));
  WriteString(writer, request.request_id);
  WriteKey(writer, WireKey("device", dialect));
  WriteString(writer, request.device_id);
  WriteKey(writer, WireKey("payload", dialect));
  if (request.command.has_raw()) {
    std::string pointer;
    WriteStruct(request.command.raw().payload(), writer, {&request.command.raw().payload_exact_numbers(), &pointer});
  } else {
    const Message* typed = TypedCommandOf(request.command);
    writer.StartObject();
    WriteMembers(typed, typed, dialect, writer);
    writer.EndObject();
  }
  if (request.state != nullptr) {
    WriteKey(writer, WireKey("state", dialect));
    writer.StartObject();
    WriteMembers(request.state, request.state, dialect, writer);
    writer.EndObject();
  }
  // Not a schema key: spelled alike in both dialects, as the W3C header is.
  if (!request.traceparent.empty()) {
    WriteKey(writer, kTraceparentKey);
    WriteString(writer, request.traceparent);
  }
  if (extra_owner != nullptr) WriteMembers(nullptr, extra_owner, dialect, writer);
  writer.EndObject();
  return std::move(json).Take();
}

}  // namespace

absl::StatusOr<std::string> WireCommandOf(const Command& command) {
  absl::StatusOr<std::string> name = WireCommandName(command);
  if (!name.ok()) return name.status();
  // A backend does not know its device's dialect (nor, in a cluster, which
  // replica writes the request): a command must be writable in both.
  constexpr Dialect kBoth[] = {Dialect::kStandard, Dialect::kCompact};
  if (absl::Status status = CheckCommandExtraKeys(command, kBoth); !status.ok()) return status;
  return name;
}

absl::StatusOr<std::string> EncodeDeviceRequest(const DeviceRequest& request, Dialect dialect) {
  return EncodeRequest({request.request_id(), request.device_id(), request.account_id(), request.command(),
                        request.has_state() ? &request.state() : nullptr},
                       &request, dialect);
}

absl::StatusOr<std::string> EncodeDeviceRequest(const DeviceRequestParts& request, Dialect dialect) {
  return EncodeRequest(request, nullptr, dialect);
}

absl::StatusOr<DeviceRequest> DecodeDeviceRequest(const rapidjson::Value& object, Dialect dialect, JsonPath& path) {
  if (!object.IsObject()) return path.Error(absl::StrCat("expected object, got ", DescribeJson(object)));
  absl::StatusOr<absl::string_view> type = RequiredString(object, "type", dialect, path);
  if (!type.ok()) return type.status();
  if (*type != kDeviceRequestType) {
    auto scope = path.Key("type");
    return path.Error(absl::StrCat(R"(expected "device-request", got ")", *type, "\""));
  }
  DeviceRequest request;
  std::string command_name;
  for (auto [key, out] :
       {std::pair{"request", request.mutable_request_id()}, std::pair{"device", request.mutable_device_id()},
        std::pair{"account", request.mutable_account_id()}, std::pair{"command", &command_name}}) {
    absl::StatusOr<absl::string_view> value = RequiredString(object, key, dialect, path);
    if (!value.ok()) return value.status();
    out->assign(value->data(), value->size());
  }
  Message* typed = SelectTypedCommand(command_name, *request.mutable_command());
  if (typed == nullptr) {
    // The payload is always written, so an absent one reads as empty: the
    // request then encodes and decodes back to itself.
    hive::bridge::v1::RawCommand& raw = *request.mutable_command()->mutable_raw();
    raw.set_command(command_name);
    raw.mutable_payload();
  }
  if (const rapidjson::Value* payload = FindMember(object, WireKey("payload", dialect))) {
    auto scope = path.Key("payload");
    absl::Status status;
    if (typed == nullptr) {
      hive::bridge::v1::RawCommand& raw = *request.mutable_command()->mutable_raw();
      status = ReadStruct(*payload, *raw.mutable_payload(), path, {raw.mutable_payload_exact_numbers(), path.depth()});
    } else {
      status = ReadMembers(
          *payload, typed, typed, [](absl::string_view) { return false; }, dialect, path);
    }
    if (!status.ok()) return status;
  }
  if (const rapidjson::Value* state = FindMember(object, WireKey("state", dialect))) {
    auto scope = path.Key("state");
    absl::Status status = ReadMembers(
        *state, request.mutable_state(), request.mutable_state(), [](absl::string_view) { return false; }, dialect,
        path);
    if (!status.ok()) return status;
  }
  absl::Status status = ReadMembers(
      object, nullptr, &request, [dialect](absl::string_view key) { return IsEnvelopeKey(key, dialect); }, dialect,
      path);
  if (!status.ok()) return status;
  return request;
}

}  // namespace hive::codec

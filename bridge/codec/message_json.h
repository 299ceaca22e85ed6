// bridge/codec/message_json.h
// Maps the members of a JSON object onto a protobuf message by field name,
// and back, driven by the message's descriptor. The API's wire messages name
// their fields exactly as the seed's JSON keys, so one mapping serves every
// typed payload and event body:
//   - `optional` scalars are written only when set (presence is kept);
//   - repeated and map fields are always written (as [] or {});
//   - enums travel as "<Type>.<value>", e.g. "AppInstanceState.stopped";
//   - google.protobuf.Struct fields hold arbitrary JSON objects;
//   - members the message does not name go to the `extra` Struct of the
//     nearest enclosing message that has one (its "owner"), integers a double
//     cannot hold to that owner's `exact_numbers`;
//   - a command message's `action` is not a member: it travels in `command`.
// Error paths use the standard key names in both dialects.
#pragma once

#include "absl/strings/string_view.h"

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/types/span.h"
#include "bridge/codec/dialect.h"
#include "bridge/codec/json_path.h"
#include "bridge/codec/json_writer.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "rapidjson/document.h"

namespace hive::codec {

// Returns true for a member key the caller reads itself (envelope keys).
using MemberFilter = absl::FunctionRef<bool(absl::string_view wire_key)>;

// Reads the members of `object` into `fields` (may be null: nothing named)
// and `owner`'s extra (may be null: unknown members are an error). The owner's
// exact_numbers pointers are relative to `object`.
absl::Status ReadMembers(const rapidjson::Value& object, google::protobuf::Message* fields,
                         google::protobuf::Message* owner, MemberFilter skip, Dialect dialect, JsonPath& path);

// INVALID_ARGUMENT naming the first `extra` key, in `message` or any message
// it holds, that is also the wire key of a typed field of the same object in
// one of `dialects` (`"application"`, or `"app"` in the compact dialect):
// writing both would give the device an object with a duplicate key, which
// JSON parsers read differently. `path` names `message` in the error
// ("command.SchedulerAction.extra: ...").
absl::Status CheckExtraKeys(const google::protobuf::Message& message, absl::Span<const Dialect> dialects,
                            JsonPath& path);

// Writes the set fields of `fields` (may be null) and then the members of
// `owner`'s extra (may be null), without the enclosing braces.
void WriteMembers(const google::protobuf::Message* fields, const google::protobuf::Message* owner, Dialect dialect,
                  JsonWriter& writer);

// The wire spelling of an enum value: "<Type>.<lower_snake suffix>", where
// <Type> is the enclosing message for a nested enum ("SchedulerAction.stop")
// and the enum itself otherwise ("AppInstanceState.stopped").
absl::string_view EnumWireName(const google::protobuf::EnumValueDescriptor& value);

// The value `wire_name` spells, or null.
const google::protobuf::EnumValueDescriptor* EnumValueOfWireName(const google::protobuf::EnumDescriptor& type,
                                                                 absl::string_view wire_name);

// The part after the dot: "stop" for "SchedulerAction.stop".
absl::string_view EnumWireSuffix(const google::protobuf::EnumValueDescriptor& value);

}  // namespace hive::codec

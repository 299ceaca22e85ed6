#include "bridge/codec/message_json.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "bridge/codec/compact_keys.h"
#include "bridge/codec/json_document.h"
#include "bridge/codec/struct_json.h"
#include "google/protobuf/struct.pb.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive::codec {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr absl::string_view kExtraField = "extra";
constexpr absl::string_view kExactNumbersField = "exact_numbers";
constexpr absl::string_view kActionField = "action";

struct WireField {
  const FieldDescriptor* field;
  absl::string_view standard_key;
  absl::string_view compact_key;
};

// What the codec needs to know of one message type, computed once.
struct MessageLayout {
  std::vector<WireField> fields;  // declaration order
  absl::flat_hash_map<absl::string_view, const FieldDescriptor*> by_standard_key;
  absl::flat_hash_map<absl::string_view, const FieldDescriptor*> by_compact_key;
  const FieldDescriptor* extra = nullptr;
  const FieldDescriptor* exact_numbers = nullptr;

  const FieldDescriptor* Find(absl::string_view wire_key, Dialect dialect) const {
    const auto& index = dialect == Dialect::kCompact ? by_compact_key : by_standard_key;
    auto it = index.find(wire_key);
    return it == index.end() ? nullptr : it->second;
  }
};

bool IsStruct(const Descriptor* type) { return type == google::protobuf::Struct::descriptor(); }

bool IsCommandAction(const FieldDescriptor& field) {
  return field.name() == kActionField && field.enum_type() != nullptr &&
         field.enum_type()->containing_type() == field.containing_type();
}

// Layouts and enum spellings of every message in the API's files. Built once
// (thread-safe static), read without locks afterwards.
class SchemaIndex {
 public:
  static const SchemaIndex& Get() {
    static const SchemaIndex* const index = new SchemaIndex;
    return *index;
  }

  const MessageLayout& LayoutOf(const Descriptor* type) const {
    auto it = layouts_.find(type);
    if (it != layouts_.end()) return *it->second;
    // A message outside the API files: nothing is named for the wire.
    static const MessageLayout* const empty = new MessageLayout;
    return *empty;
  }

  absl::string_view WireName(const EnumValueDescriptor& value) const {
    auto it = enum_names_.find(&value);
    return it == enum_names_.end() ? absl::string_view(value.name()) : absl::string_view(it->second);
  }

  const EnumValueDescriptor* ValueOf(const EnumDescriptor& type, absl::string_view wire_name) const {
    auto by_type = enum_values_.find(&type);
    if (by_type == enum_values_.end()) return nullptr;
    auto it = by_type->second.find(wire_name);
    return it == by_type->second.end() ? nullptr : it->second;
  }

 private:
  SchemaIndex() {
    for (const auto* file :
         {hive::bridge::v1::ListDevicesRequest::descriptor()->file(),
          hive::bridge::v1::DeviceEvent::descriptor()->file(), hive::bridge::v1::DeviceRequest::descriptor()->file()}) {
      for (int i = 0; i < file->message_type_count(); ++i) AddMessage(file->message_type(i));
      for (int i = 0; i < file->enum_type_count(); ++i) AddEnum(file->enum_type(i));
    }
  }

  void AddMessage(const Descriptor* type) {
    if (layouts_.contains(type)) return;
    auto layout = std::make_unique<MessageLayout>();
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor* field = type->field(i);
      if (field->name() == kExtraField && field->message_type() != nullptr && IsStruct(field->message_type())) {
        layout->extra = field;
      } else if (field->name() == kExactNumbersField && field->is_map()) {
        layout->exact_numbers = field;
      } else if (!IsCommandAction(*field)) {
        WireField wire{field, field->name(), CompactKey(field->name())};
        layout->by_standard_key.emplace(wire.standard_key, field);
        layout->by_compact_key.emplace(wire.compact_key, field);
        layout->fields.push_back(wire);
      }
    }
    layouts_.emplace(type, std::move(layout));
    for (int i = 0; i < type->nested_type_count(); ++i) AddMessage(type->nested_type(i));
    for (int i = 0; i < type->enum_type_count(); ++i) AddEnum(type->enum_type(i));
  }

  void AddEnum(const EnumDescriptor* type) {
    // The zero value is "<PREFIX>_UNSPECIFIED"; every value shares the prefix.
    const std::string prefix(absl::StripSuffix(type->value(0)->name(), "UNSPECIFIED"));
    const std::string& label = type->containing_type() != nullptr ? type->containing_type()->name() : type->name();
    auto& values = enum_values_[type];
    for (int i = 0; i < type->value_count(); ++i) {
      const EnumValueDescriptor* value = type->value(i);
      std::string suffix = absl::AsciiStrToLower(absl::StripPrefix(value->name(), prefix));
      const std::string& name = enum_names_[value] = absl::StrCat(label, ".", suffix);
      if (value->number() != 0) values.emplace(name, value);
    }
  }

  absl::flat_hash_map<const Descriptor*, std::unique_ptr<MessageLayout>> layouts_;
  absl::flat_hash_map<const EnumValueDescriptor*, std::string> enum_names_;
  absl::flat_hash_map<const EnumDescriptor*, absl::flat_hash_map<std::string, const EnumValueDescriptor*>> enum_values_;
};

// Where the members of the object being read go when the schema does not
// name them, and where exact literals of its integers go.
struct Owner {
  Message* message = nullptr;
  const MessageLayout* layout = nullptr;
  size_t base = 0;

  bool has_extra() const { return message != nullptr && layout->extra != nullptr; }

  google::protobuf::Struct& extra() const {
    return *static_cast<google::protobuf::Struct*>(message->GetReflection()->MutableMessage(message, layout->extra));
  }

  ExactNumberSink sink() const {
    if (message == nullptr || layout->exact_numbers == nullptr) return {};
    return {message, layout->exact_numbers, base};
  }
};

Owner OwnerFor(Message* message, const JsonPath& path, const Owner& enclosing) {
  if (message == nullptr) return enclosing;
  const MessageLayout& layout = SchemaIndex::Get().LayoutOf(message->GetDescriptor());
  if (layout.extra == nullptr && layout.exact_numbers == nullptr) return enclosing;
  return {message, &layout, path.depth()};
}

absl::Status Expected(const JsonPath& path, absl::string_view what, const rapidjson::Value& got) {
  return path.Error(absl::StrCat("expected ", what, ", got ", DescribeJson(got)));
}

absl::Status ReadObjectInto(const rapidjson::Value& object, Message* fields, const Owner& owner, MemberFilter skip,
                            Dialect dialect, JsonPath& path);

// The integer a JSON number denotes, if it is one that fits `Integer`.
// proto3's JSON mapping reads an integer field from any integral number
// ("5.0" and "5e0" are 5), and so must this reader: the encoder writes an
// integral double as an integer (json_writer.h), so an event that fell back
// to the generic schema over "5.0" would come back typed after one trip.
template <typename Integer>
std::optional<Integer> IntegerOf(const rapidjson::Value& json) {
  if constexpr (std::is_same_v<Integer, int32_t>) {
    if (json.IsInt()) return json.GetInt();
  } else if constexpr (std::is_same_v<Integer, int64_t>) {
    if (json.IsInt64()) return json.GetInt64();
  } else if constexpr (std::is_same_v<Integer, uint32_t>) {
    if (json.IsUint()) return json.GetUint();
  } else {
    static_assert(std::is_same_v<Integer, uint64_t>);
    if (json.IsUint64()) return json.GetUint64();
  }
  if (!json.IsDouble()) return std::nullopt;
  const double value = json.GetDouble();
  // Powers of two, so both bounds are exact doubles.
  const double upper = std::ldexp(1.0, std::numeric_limits<Integer>::digits);
  const double lower = std::is_signed_v<Integer> ? -upper : 0.0;
  if (std::trunc(value) != value || value < lower || value >= upper) return std::nullopt;
  return static_cast<Integer>(value);
}

// Reads one JSON value into a singular field (repeated = false) or appends
// it to a repeated one.
absl::Status ReadFieldValue(const rapidjson::Value& json, Message& message, const FieldDescriptor& field, bool repeated,
                            const Owner& owner, Dialect dialect, JsonPath& path) {
  const Reflection& r = *message.GetReflection();
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      if (!json.IsString()) return Expected(path, "string", json);
      std::string value(json.GetString(), json.GetStringLength());
      repeated ? r.AddString(&message, &field, std::move(value)) : r.SetString(&message, &field, std::move(value));
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      if (!json.IsBool()) return Expected(path, "true or false", json);
      repeated ? r.AddBool(&message, &field, json.GetBool()) : r.SetBool(&message, &field, json.GetBool());
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_INT32:
      if (const std::optional<int32_t> value = IntegerOf<int32_t>(json)) {
        repeated ? r.AddInt32(&message, &field, *value) : r.SetInt32(&message, &field, *value);
        return absl::OkStatus();
      }
      return Expected(path, "32-bit integer", json);
    case FieldDescriptor::CPPTYPE_INT64:
      if (const std::optional<int64_t> value = IntegerOf<int64_t>(json)) {
        repeated ? r.AddInt64(&message, &field, *value) : r.SetInt64(&message, &field, *value);
        return absl::OkStatus();
      }
      return Expected(path, "64-bit integer", json);
    case FieldDescriptor::CPPTYPE_UINT32:
      if (const std::optional<uint32_t> value = IntegerOf<uint32_t>(json)) {
        repeated ? r.AddUInt32(&message, &field, *value) : r.SetUInt32(&message, &field, *value);
        return absl::OkStatus();
      }
      return Expected(path, "unsigned 32-bit integer", json);
    case FieldDescriptor::CPPTYPE_UINT64:
      if (const std::optional<uint64_t> value = IntegerOf<uint64_t>(json)) {
        repeated ? r.AddUInt64(&message, &field, *value) : r.SetUInt64(&message, &field, *value);
        return absl::OkStatus();
      }
      return Expected(path, "unsigned 64-bit integer", json);
    case FieldDescriptor::CPPTYPE_DOUBLE:
      if (!json.IsNumber()) return Expected(path, "number", json);
      repeated ? r.AddDouble(&message, &field, json.GetDouble()) : r.SetDouble(&message, &field, json.GetDouble());
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_FLOAT:
      if (!json.IsNumber()) return Expected(path, "number", json);
      repeated ? r.AddFloat(&message, &field, json.GetFloat()) : r.SetFloat(&message, &field, json.GetFloat());
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_ENUM: {
      if (!json.IsString()) return Expected(path, "string", json);
      const EnumValueDescriptor* value = SchemaIndex::Get().ValueOf(*field.enum_type(), ViewOf(json));
      if (value == nullptr) {
        std::string known;
        for (int i = 1; i < field.enum_type()->value_count(); ++i) {
          absl::StrAppend(&known, i > 1 ? ", " : "", "\"", EnumWireName(*field.enum_type()->value(i)), "\"");
        }
        return path.Error(absl::StrCat("unknown value ", DescribeJson(json), "; expected one of ", known));
      }
      repeated ? r.AddEnum(&message, &field, value) : r.SetEnum(&message, &field, value);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      Message* child = repeated ? r.AddMessage(&message, &field) : r.MutableMessage(&message, &field);
      if (IsStruct(field.message_type())) {
        return ReadStruct(json, *static_cast<google::protobuf::Struct*>(child), path, owner.sink());
      }
      if (!json.IsObject()) return Expected(path, "object", json);
      return ReadObjectInto(
          json, child, OwnerFor(child, path, owner), [](absl::string_view) { return false; }, dialect, path);
    }
  }
  return path.Error("unsupported field type");
}

absl::Status ReadMapField(const rapidjson::Value& json, Message& message, const FieldDescriptor& field,
                          const Owner& owner, Dialect dialect, JsonPath& path) {
  if (!json.IsObject()) return Expected(path, "object", json);
  if (std::optional<absl::string_view> duplicate = FindDuplicateKey(json)) {
    return path.Error(absl::StrCat("duplicate key \"", *duplicate, "\""));
  }
  const FieldDescriptor& key_field = *field.message_type()->map_key();
  const FieldDescriptor& value_field = *field.message_type()->map_value();
  for (const auto& member : json.GetObject()) {
    auto scope = path.Key(ViewOf(member.name));
    Message* entry = message.GetReflection()->AddMessage(&message, &field);
    entry->GetReflection()->SetString(entry, &key_field, std::string(ViewOf(member.name)));
    if (absl::Status status = ReadFieldValue(member.value, *entry, value_field, false, owner, dialect, path);
        !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

absl::Status ReadField(const rapidjson::Value& json, Message& message, const FieldDescriptor& field, const Owner& owner,
                       Dialect dialect, JsonPath& path) {
  if (field.is_map()) return ReadMapField(json, message, field, owner, dialect, path);
  if (!field.is_repeated()) return ReadFieldValue(json, message, field, false, owner, dialect, path);
  if (!json.IsArray()) return Expected(path, "array", json);
  for (rapidjson::SizeType i = 0; i < json.Size(); ++i) {
    auto scope = path.Index(i);
    if (absl::Status status = ReadFieldValue(json[i], message, field, true, owner, dialect, path); !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

absl::Status ReadObjectInto(const rapidjson::Value& object, Message* fields, const Owner& owner, MemberFilter skip,
                            Dialect dialect, JsonPath& path) {
  if (std::optional<absl::string_view> duplicate = FindDuplicateKey(object)) {
    return path.Error(absl::StrCat("duplicate key \"", *duplicate, "\""));
  }
  const MessageLayout* layout = fields != nullptr ? &SchemaIndex::Get().LayoutOf(fields->GetDescriptor()) : nullptr;
  for (const auto& member : object.GetObject()) {
    absl::string_view key = ViewOf(member.name);
    if (skip(key)) continue;
    if (const FieldDescriptor* field = layout != nullptr ? layout->Find(key, dialect) : nullptr) {
      auto scope = path.Key(field->name());
      if (absl::Status status = ReadField(member.value, *fields, *field, owner, dialect, path); !status.ok()) {
        return status;
      }
      continue;
    }
    auto scope = path.Key(key);
    // In the compact dialect the standard spelling of a Struct field would
    // share its JSON Pointers (and so its exact_numbers) with that field.
    if (dialect == Dialect::kCompact && layout != nullptr) {
      const FieldDescriptor* field = layout->Find(key, Dialect::kStandard);
      if (field != nullptr && field->message_type() != nullptr && IsStruct(field->message_type())) {
        return path.Error(absl::StrCat("the compact dialect spells this field \"", CompactKey(field->name()), "\""));
      }
    }
    if (!owner.has_extra()) return path.Error("unknown field");
    google::protobuf::Value& value = (*owner.extra().mutable_fields())[std::string(key)];
    if (absl::Status status = ReadValue(member.value, value, path, owner.sink()); !status.ok()) return status;
  }
  return absl::OkStatus();
}

// Writing.

// A copy of `owner`'s exact_numbers (usually empty, so usually free).
ExactNumbers ExactNumbersOf(const Message* owner) {
  ExactNumbers numbers;
  if (owner == nullptr) return numbers;
  const FieldDescriptor* field = SchemaIndex::Get().LayoutOf(owner->GetDescriptor()).exact_numbers;
  if (field == nullptr) return numbers;
  const Reflection& r = *owner->GetReflection();
  for (int i = 0, n = r.FieldSize(*owner, field); i < n; ++i) {
    const Message& entry = r.GetRepeatedMessage(*owner, field, i);
    const Reflection& entry_reflection = *entry.GetReflection();
    numbers[entry_reflection.GetString(entry, field->message_type()->map_key())] =
        entry_reflection.GetString(entry, field->message_type()->map_value());
  }
  return numbers;
}

void WriteObject(const Message& message, Dialect dialect, JsonWriter& writer);

void WriteFieldValue(const Message& message, const FieldDescriptor& field, int index, const ExactNumbers* numbers,
                     std::string& pointer, Dialect dialect, JsonWriter& writer) {
  const Reflection& r = *message.GetReflection();
  const bool repeated = index >= 0;
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& value = repeated ? r.GetRepeatedStringReference(message, &field, index, &scratch)
                                          : r.GetStringReference(message, &field, &scratch);
      WriteString(writer, value);
      return;
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      writer.Bool(repeated ? r.GetRepeatedBool(message, &field, index) : r.GetBool(message, &field));
      return;
    case FieldDescriptor::CPPTYPE_INT32:
      writer.Int(repeated ? r.GetRepeatedInt32(message, &field, index) : r.GetInt32(message, &field));
      return;
    case FieldDescriptor::CPPTYPE_INT64:
      writer.Int64(repeated ? r.GetRepeatedInt64(message, &field, index) : r.GetInt64(message, &field));
      return;
    case FieldDescriptor::CPPTYPE_UINT32:
      writer.Uint(repeated ? r.GetRepeatedUInt32(message, &field, index) : r.GetUInt32(message, &field));
      return;
    case FieldDescriptor::CPPTYPE_UINT64:
      writer.Uint64(repeated ? r.GetRepeatedUInt64(message, &field, index) : r.GetUInt64(message, &field));
      return;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      WriteNumber(writer, repeated ? r.GetRepeatedDouble(message, &field, index) : r.GetDouble(message, &field));
      return;
    case FieldDescriptor::CPPTYPE_FLOAT:
      WriteNumber(writer, repeated ? r.GetRepeatedFloat(message, &field, index) : r.GetFloat(message, &field));
      return;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const EnumValueDescriptor* value =
          repeated ? r.GetRepeatedEnum(message, &field, index) : r.GetEnum(message, &field);
      WriteString(writer, EnumWireName(*value));
      return;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& child = repeated ? r.GetRepeatedMessage(message, &field, index) : r.GetMessage(message, &field);
      if (IsStruct(field.message_type())) {
        WriteStruct(static_cast<const google::protobuf::Struct&>(child), writer, {numbers, &pointer});
      } else {
        WriteObject(child, dialect, writer);
      }
      return;
    }
  }
}

void WriteMapField(const Message& message, const FieldDescriptor& field, const ExactNumbers* numbers,
                   std::string& pointer, Dialect dialect, JsonWriter& writer) {
  const Reflection& r = *message.GetReflection();
  const FieldDescriptor& key_field = *field.message_type()->map_key();
  const FieldDescriptor& value_field = *field.message_type()->map_value();
  std::vector<const Message*> entries;
  const int size = r.FieldSize(message, &field);
  entries.reserve(size);
  for (int i = 0; i < size; ++i) entries.push_back(&r.GetRepeatedMessage(message, &field, i));
  auto key_of = [&key_field](const Message* entry) { return entry->GetReflection()->GetString(*entry, &key_field); };
  std::sort(entries.begin(), entries.end(), [&](const Message* a, const Message* b) { return key_of(a) < key_of(b); });
  writer.StartObject();
  for (const Message* entry : entries) {
    const std::string key = key_of(entry);
    WriteKey(writer, key);
    const size_t old_size = AppendPointerKey(pointer, key);
    WriteFieldValue(*entry, value_field, -1, numbers, pointer, dialect, writer);
    pointer.resize(old_size);
  }
  writer.EndObject();
}

void WriteFields(const Message& message, const ExactNumbers* numbers, Dialect dialect, JsonWriter& writer) {
  const Reflection& r = *message.GetReflection();
  std::string pointer;
  for (const WireField& wire : SchemaIndex::Get().LayoutOf(message.GetDescriptor()).fields) {
    const FieldDescriptor& field = *wire.field;
    if (!field.is_repeated() && !r.HasField(message, &field)) continue;
    WriteKey(writer, dialect == Dialect::kCompact ? wire.compact_key : wire.standard_key);
    const size_t old_size = AppendPointerKey(pointer, field.name());
    const size_t field_pointer_size = pointer.size();
    if (field.is_map()) {
      WriteMapField(message, field, numbers, pointer, dialect, writer);
    } else if (field.is_repeated()) {
      writer.StartArray();
      for (int i = 0, n = r.FieldSize(message, &field); i < n; ++i) {
        absl::StrAppend(&pointer, "/", i);
        WriteFieldValue(message, field, i, numbers, pointer, dialect, writer);
        pointer.resize(field_pointer_size);
      }
      writer.EndArray();
    } else {
      WriteFieldValue(message, field, -1, numbers, pointer, dialect, writer);
    }
    pointer.resize(old_size);
  }
}

void WriteExtra(const Message& owner, JsonWriter& writer) {
  const MessageLayout& layout = SchemaIndex::Get().LayoutOf(owner.GetDescriptor());
  if (layout.extra == nullptr || !owner.GetReflection()->HasField(owner, layout.extra)) return;
  std::string pointer;
  const auto& extra =
      static_cast<const google::protobuf::Struct&>(owner.GetReflection()->GetMessage(owner, layout.extra));
  const ExactNumbers numbers = ExactNumbersOf(&owner);
  WriteStructMembers(extra, writer, {&numbers, &pointer});
}

void WriteObject(const Message& message, Dialect dialect, JsonWriter& writer) {
  writer.StartObject();
  WriteMembers(&message, &message, dialect, writer);
  writer.EndObject();
}

// The smallest key of `extra` that a typed field of `layout` spells in either
// dialect, with that field; the smallest so the answer does not depend on the
// Struct's (unordered) map.
std::optional<std::pair<std::string, const WireField*>> FirstCollidingKey(const google::protobuf::Struct& extra,
                                                                          const MessageLayout& layout,
                                                                          absl::Span<const Dialect> dialects) {
  auto spells = [dialects](const WireField& wire, absl::string_view key) {
    for (Dialect dialect : dialects) {
      if (key == (dialect == Dialect::kCompact ? wire.compact_key : wire.standard_key)) return true;
    }
    return false;
  };
  std::optional<std::pair<std::string, const WireField*>> first;
  for (const auto& [key, value] : extra.fields()) {
    if (first.has_value() && key >= first->first) continue;
    for (const WireField& wire : layout.fields) {
      if (spells(wire, key)) {
        first.emplace(key, &wire);
        break;
      }
    }
  }
  return first;
}

absl::Status CheckExtraKeysIn(const Message& message, absl::Span<const Dialect> dialects, JsonPath& path) {
  const MessageLayout& layout = SchemaIndex::Get().LayoutOf(message.GetDescriptor());
  const Reflection& r = *message.GetReflection();
  if (layout.extra != nullptr && r.HasField(message, layout.extra)) {
    const auto& extra = static_cast<const google::protobuf::Struct&>(r.GetMessage(message, layout.extra));
    if (auto collision = FirstCollidingKey(extra, layout, dialects)) {
      const WireField& wire = *collision->second;
      auto scope = path.Key(kExtraField);
      const bool compact = collision->first != wire.standard_key;
      return path.Error(absl::StrCat("key \"", collision->first, "\" collides with the field ", wire.standard_key,
                                     compact ? " (its compact-dialect key)" : "",
                                     ", so the device would get it twice; set the field instead"));
    }
  }
  for (const WireField& wire : layout.fields) {
    const FieldDescriptor& field = *wire.field;
    if (field.cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || IsStruct(field.message_type())) continue;
    auto scope = path.Key(field.name());
    if (field.is_map()) {
      const FieldDescriptor& key_field = *field.message_type()->map_key();
      const FieldDescriptor& value_field = *field.message_type()->map_value();
      if (value_field.cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || IsStruct(value_field.message_type())) continue;
      for (int i = 0, n = r.FieldSize(message, &field); i < n; ++i) {
        const Message& entry = r.GetRepeatedMessage(message, &field, i);
        const std::string key = entry.GetReflection()->GetString(entry, &key_field);
        auto key_scope = path.Key(key);
        absl::Status status = CheckExtraKeysIn(entry.GetReflection()->GetMessage(entry, &value_field), dialects, path);
        if (!status.ok()) return status;
      }
    } else if (field.is_repeated()) {
      for (int i = 0, n = r.FieldSize(message, &field); i < n; ++i) {
        auto index_scope = path.Index(i);
        if (absl::Status status = CheckExtraKeysIn(r.GetRepeatedMessage(message, &field, i), dialects, path);
            !status.ok()) {
          return status;
        }
      }
    } else if (r.HasField(message, &field)) {
      absl::Status status = CheckExtraKeysIn(r.GetMessage(message, &field), dialects, path);
      if (!status.ok()) return status;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckExtraKeys(const Message& message, absl::Span<const Dialect> dialects, JsonPath& path) {
  return CheckExtraKeysIn(message, dialects, path);
}

absl::Status ReadMembers(const rapidjson::Value& object, Message* fields, Message* owner, MemberFilter skip,
                         Dialect dialect, JsonPath& path) {
  if (!object.IsObject()) return Expected(path, "object", object);
  return ReadObjectInto(object, fields, OwnerFor(owner, path, Owner{}), skip, dialect, path);
}

void WriteMembers(const Message* fields, const Message* owner, Dialect dialect, JsonWriter& writer) {
  if (fields != nullptr) {
    const ExactNumbers numbers = ExactNumbersOf(owner);
    WriteFields(*fields, &numbers, dialect, writer);
  }
  if (owner != nullptr) WriteExtra(*owner, writer);
}

absl::string_view EnumWireName(const EnumValueDescriptor& value) { return SchemaIndex::Get().WireName(value); }

const EnumValueDescriptor* EnumValueOfWireName(const EnumDescriptor& type, absl::string_view wire_name) {
  return SchemaIndex::Get().ValueOf(type, wire_name);
}

absl::string_view EnumWireSuffix(const EnumValueDescriptor& value) {
  absl::string_view name = EnumWireName(value);
  return name.substr(name.find('.') + 1);
}

}  // namespace hive::codec

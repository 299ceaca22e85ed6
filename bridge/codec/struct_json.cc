#include "bridge/codec/struct_json.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge/codec/json_document.h"

namespace hive::codec {
namespace {

// True when the double nearest to `value` is `value` itself.
template <typename Integer>
bool DoubleHoldsExactly(Integer value) {
  constexpr double kTwoTo63 = 9223372036854775808.0;
  const auto nearest = static_cast<double>(value);
  if constexpr (std::is_signed_v<Integer>) {
    if (nearest >= kTwoTo63 || nearest < -kTwoTo63) return false;
    return static_cast<Integer>(nearest) == value;
  } else {
    if (nearest >= 2 * kTwoTo63) return false;
    return static_cast<Integer>(nearest) == value;
  }
}

template <typename Integer>
void ReadInteger(Integer value, google::protobuf::Value& out, const JsonPath& path, ExactNumberSink sink) {
  out.set_number_value(static_cast<double>(value));
  if (!DoubleHoldsExactly(value)) sink.Record(path, absl::StrCat(value));
}

// The literal stored for the current pointer, if it still denotes `number`.
const std::string* ExactLiteralFor(double number, ExactNumberSource source) {
  if (!source.active()) return nullptr;
  auto it = source.numbers->find(*source.pointer);
  if (it == source.numbers->end()) return nullptr;
  const std::string& literal = it->second;
  double parsed = 0;
  auto [end, error] = std::from_chars(literal.data(), literal.data() + literal.size(), parsed);
  if (error != std::errc() || end != literal.data() + literal.size() || parsed != number) return nullptr;
  return &literal;
}

}  // namespace

void ExactNumberSink::Record(const JsonPath& path, std::string literal) const {
  if (numbers_ != nullptr) {
    (*numbers_)[path.PointerFrom(base_)] = std::move(literal);
  } else if (owner_ != nullptr) {
    google::protobuf::Message* entry = owner_->GetReflection()->AddMessage(owner_, map_field_);
    const google::protobuf::Reflection& entry_reflection = *entry->GetReflection();
    entry_reflection.SetString(entry, map_field_->message_type()->map_key(), path.PointerFrom(base_));
    entry_reflection.SetString(entry, map_field_->message_type()->map_value(), std::move(literal));
  }
}

absl::Status ReadValue(const rapidjson::Value& json, google::protobuf::Value& out, JsonPath& path,
                       ExactNumberSink sink) {
  switch (json.GetType()) {
    case rapidjson::kNullType:
      out.set_null_value(google::protobuf::NULL_VALUE);
      return absl::OkStatus();
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      out.set_bool_value(json.GetBool());
      return absl::OkStatus();
    case rapidjson::kStringType:
      out.set_string_value(json.GetString(), json.GetStringLength());
      return absl::OkStatus();
    case rapidjson::kNumberType:
      if (json.IsInt64()) {
        ReadInteger(json.GetInt64(), out, path, sink);
      } else if (json.IsUint64()) {
        ReadInteger(json.GetUint64(), out, path, sink);
      } else {
        out.set_number_value(json.GetDouble());
      }
      return absl::OkStatus();
    case rapidjson::kObjectType:
      return ReadStruct(json, *out.mutable_struct_value(), path, sink);
    case rapidjson::kArrayType: {
      google::protobuf::ListValue& list = *out.mutable_list_value();
      list.mutable_values()->Reserve(static_cast<int>(json.Size()));
      for (rapidjson::SizeType i = 0; i < json.Size(); ++i) {
        auto scope = path.Index(i);
        if (absl::Status status = ReadValue(json[i], *list.add_values(), path, sink); !status.ok()) {
          return status;
        }
      }
      return absl::OkStatus();
    }
  }
  return path.Error("unsupported JSON value");
}

absl::Status ReadStruct(const rapidjson::Value& object, google::protobuf::Struct& out, JsonPath& path,
                        ExactNumberSink sink) {
  if (!object.IsObject()) return path.Error(absl::StrCat("expected object, got ", DescribeJson(object)));
  if (std::optional<absl::string_view> duplicate = FindDuplicateKey(object)) {
    return path.Error(absl::StrCat("duplicate key \"", *duplicate, "\""));
  }
  auto& fields = *out.mutable_fields();
  for (const auto& member : object.GetObject()) {
    absl::string_view key = ViewOf(member.name);
    auto scope = path.Key(key);
    if (absl::Status status = ReadValue(member.value, fields[std::string(key)], path, sink); !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

size_t AppendPointerKey(std::string& pointer, absl::string_view key) {
  const size_t old_size = pointer.size();
  pointer.push_back('/');
  for (char c : key) {
    if (c == '~') {
      pointer.append("~0");
    } else if (c == '/') {
      pointer.append("~1");
    } else {
      pointer.push_back(c);
    }
  }
  return old_size;
}

void WriteValue(const google::protobuf::Value& value, JsonWriter& writer, ExactNumberSource source) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kNullValue:
    case google::protobuf::Value::KIND_NOT_SET:
      writer.Null();
      return;
    case google::protobuf::Value::kBoolValue:
      writer.Bool(value.bool_value());
      return;
    case google::protobuf::Value::kStringValue:
      WriteString(writer, value.string_value());
      return;
    case google::protobuf::Value::kNumberValue:
      if (const std::string* literal = ExactLiteralFor(value.number_value(), source)) {
        writer.RawValue(literal->data(), literal->size(), rapidjson::kNumberType);
      } else {
        WriteNumber(writer, value.number_value());
      }
      return;
    case google::protobuf::Value::kStructValue:
      WriteStruct(value.struct_value(), writer, source);
      return;
    case google::protobuf::Value::kListValue: {
      writer.StartArray();
      const auto& values = value.list_value().values();
      for (int i = 0; i < values.size(); ++i) {
        if (source.active()) {
          const size_t old_size = source.pointer->size();
          absl::StrAppend(source.pointer, "/", i);
          WriteValue(values[i], writer, source);
          source.pointer->resize(old_size);
        } else {
          WriteValue(values[i], writer, source);
        }
      }
      writer.EndArray();
      return;
    }
  }
}

void WriteStructMembers(const google::protobuf::Struct& members, JsonWriter& writer, ExactNumberSource source) {
  // protobuf maps iterate in no fixed order; sort for byte-stable output.
  std::vector<const google::protobuf::Map<std::string, google::protobuf::Value>::value_type*> sorted;
  sorted.reserve(members.fields().size());
  for (const auto& entry : members.fields()) sorted.push_back(&entry);
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
  for (const auto* entry : sorted) {
    WriteKey(writer, entry->first);
    if (source.active()) {
      const size_t old_size = AppendPointerKey(*source.pointer, entry->first);
      WriteValue(entry->second, writer, source);
      source.pointer->resize(old_size);
    } else {
      WriteValue(entry->second, writer, source);
    }
  }
}

void WriteStruct(const google::protobuf::Struct& object, JsonWriter& writer, ExactNumberSource source) {
  writer.StartObject();
  WriteStructMembers(object, writer, source);
  writer.EndObject();
}

}  // namespace hive::codec

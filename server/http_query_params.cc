#include "server/http_query_params.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"

namespace hive::server {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

const FieldDescriptor* FindField(const Descriptor& descriptor, absl::string_view name) {
  const std::string key(name);
  if (const FieldDescriptor* field = descriptor.FindFieldByName(key); field != nullptr) return field;
  return descriptor.FindFieldByCamelcaseName(key);
}

absl::Status Expected(absl::string_view parameter, absl::string_view what, absl::string_view value) {
  return absl::InvalidArgumentError(
      absl::StrCat("query parameter \"", parameter, "\": expected ", what, ", got \"", value, "\""));
}

template <typename T>
absl::Status ParseNumber(absl::string_view parameter, absl::string_view value, absl::string_view what, T* out) {
  if (!absl::SimpleAtoi(value, out)) return Expected(parameter, what, value);
  return absl::OkStatus();
}

// Sets (or, for a repeated field, adds) one scalar value.
absl::Status SetScalar(Message& message, const FieldDescriptor& field, absl::string_view parameter,
                       absl::string_view value) {
  const Reflection& reflection = *message.GetReflection();
  const bool repeated = field.is_repeated();
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      if (repeated) {
        reflection.AddString(&message, &field, std::string(value));
      } else {
        reflection.SetString(&message, &field, std::string(value));
      }
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t number = 0;
      if (absl::Status parsed = ParseNumber(parameter, value, "a 32-bit integer", &number); !parsed.ok()) return parsed;
      repeated ? reflection.AddInt32(&message, &field, number) : reflection.SetInt32(&message, &field, number);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t number = 0;
      if (absl::Status parsed = ParseNumber(parameter, value, "an integer", &number); !parsed.ok()) return parsed;
      repeated ? reflection.AddInt64(&message, &field, number) : reflection.SetInt64(&message, &field, number);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t number = 0;
      if (absl::Status parsed = ParseNumber(parameter, value, "an unsigned 32-bit integer", &number); !parsed.ok()) {
        return parsed;
      }
      repeated ? reflection.AddUInt32(&message, &field, number) : reflection.SetUInt32(&message, &field, number);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t number = 0;
      if (absl::Status parsed = ParseNumber(parameter, value, "an unsigned integer", &number); !parsed.ok()) {
        return parsed;
      }
      repeated ? reflection.AddUInt64(&message, &field, number) : reflection.SetUInt64(&message, &field, number);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      if (value != "true" && value != "false") return Expected(parameter, "true or false", value);
      repeated ? reflection.AddBool(&message, &field, value == "true")
               : reflection.SetBool(&message, &field, value == "true");
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const EnumValueDescriptor* found = field.enum_type()->FindValueByName(std::string(value));
      int number = 0;
      if (found == nullptr && absl::SimpleAtoi(value, &number)) found = field.enum_type()->FindValueByNumber(number);
      if (found == nullptr) {
        std::vector<std::string> names;
        names.reserve(field.enum_type()->value_count());
        for (int i = 0; i < field.enum_type()->value_count(); ++i) names.push_back(field.enum_type()->value(i)->name());
        return Expected(parameter, absl::StrCat("one of ", absl::StrJoin(names, ", ")), value);
      }
      repeated ? reflection.AddEnum(&message, &field, found) : reflection.SetEnum(&message, &field, found);
      return absl::OkStatus();
    }
    default:
      // No request message of the API has float, double or bytes fields.
      return absl::InvalidArgumentError(
          absl::StrCat("query parameter \"", parameter, "\": this field cannot be set from the query"));
  }
}

}  // namespace

absl::Status SetQueryParameter(Message& message, absl::string_view name, absl::string_view value) {
  Message* target = &message;
  const std::vector<absl::string_view> path = absl::StrSplit(name, '.');
  for (size_t i = 0; i < path.size(); ++i) {
    const FieldDescriptor* field = FindField(*target->GetDescriptor(), path[i]);
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown query parameter \"", name, "\"; ",
                                                     target->GetDescriptor()->full_name(), " has no field \"", path[i],
                                                     "\""));
    }
    const bool last = i + 1 == path.size();
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (last || field->is_repeated()) {
        return absl::InvalidArgumentError(absl::StrCat("query parameter \"", name, "\": ", field->name(),
                                                       " is a message; set its fields (", field->name(), ".FIELD)"));
      }
      target = target->GetReflection()->MutableMessage(target, field);
      continue;
    }
    if (!last) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown query parameter \"", name, "\": ", field->name(), " has no fields"));
    }
    return SetScalar(*target, *field, name, value);
  }
  return absl::InvalidArgumentError("empty query parameter name");
}

absl::StatusOr<hive::bridge::v1::StreamPosition> ParseStreamPosition(absl::string_view text, absl::string_view what) {
  const size_t colon = text.rfind(':');
  hive::bridge::v1::StreamPosition position;
  uint64_t sequence = 0;
  if (colon == absl::string_view::npos || colon == 0 || !absl::SimpleAtoi(text.substr(colon + 1), &sequence)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": expected <epoch>:<sequence> as in an event's id, got \"", text, "\""));
  }
  position.set_epoch(std::string(text.substr(0, colon)));
  position.set_sequence(sequence);
  return position;
}

}  // namespace hive::server

// bridge/codec/struct_json.h
// JSON ⇄ google.protobuf.Struct/Value, without losing 64-bit integers.
//
// A Struct stores every number as a double. An integer a double cannot hold
// exactly (beyond ±2^53) is stored as its nearest double in the Struct and as
// its decimal literal in an `exact_numbers` map keyed by JSON Pointer from
// the enclosing object; writing it back emits the literal as long as the
// Struct still holds that nearest double.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "bridge/codec/json_path.h"
#include "bridge/codec/json_writer.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/map.h"
#include "google/protobuf/message.h"
#include "google/protobuf/struct.pb.h"
#include "rapidjson/document.h"

namespace hive::codec {

using ExactNumbers = google::protobuf::Map<std::string, std::string>;

// Where exact literals of the values being read go, keyed by the pointer from
// the object at path depth `base`: a Map, or a message's map field (through
// reflection, since protobuf keeps map reflection internal). A default sink
// discards them, so big integers keep only their nearest double.
class ExactNumberSink {
 public:
  ExactNumberSink() = default;
  ExactNumberSink(ExactNumbers* numbers, size_t base) : numbers_(numbers), base_(base) {}
  ExactNumberSink(google::protobuf::Message* owner, const google::protobuf::FieldDescriptor* map_field, size_t base)
      : owner_(owner), map_field_(map_field), base_(base) {}

  void Record(const JsonPath& path, std::string literal) const;

 private:
  ExactNumbers* numbers_ = nullptr;
  google::protobuf::Message* owner_ = nullptr;
  const google::protobuf::FieldDescriptor* map_field_ = nullptr;
  size_t base_ = 0;
};

// Reads a JSON object into `out`; duplicate keys are an error.
absl::Status ReadStruct(const rapidjson::Value& object, google::protobuf::Struct& out, JsonPath& path,
                        ExactNumberSink sink);

// Reads any JSON value into `out`.
absl::Status ReadValue(const rapidjson::Value& json, google::protobuf::Value& out, JsonPath& path,
                       ExactNumberSink sink);

// Where exact literals of the values being written come from: `numbers`
// keyed by pointer from the object `pointer` started at. Empty or null
// numbers skip all pointer bookkeeping.
struct ExactNumberSource {
  const ExactNumbers* numbers = nullptr;
  std::string* pointer = nullptr;

  bool active() const { return numbers != nullptr && !numbers->empty() && pointer != nullptr; }
};

// Writes `members` of a Struct (without braces) in key order, so output is
// deterministic.
void WriteStructMembers(const google::protobuf::Struct& members, JsonWriter& writer, ExactNumberSource source);

// Writes a Struct as a JSON object.
void WriteStruct(const google::protobuf::Struct& object, JsonWriter& writer, ExactNumberSource source);

// Writes one Value.
void WriteValue(const google::protobuf::Value& value, JsonWriter& writer, ExactNumberSource source);

// Appends "/key" (escaped per RFC 6901) to a pointer; returns the old size to
// truncate back to.
size_t AppendPointerKey(std::string& pointer, absl::string_view key);

}  // namespace hive::codec

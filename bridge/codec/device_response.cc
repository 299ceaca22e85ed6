#include "bridge/codec/device_response.h"

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/codec/compact_keys.h"
#include "bridge/codec/json_document.h"
#include "bridge/codec/json_writer.h"

namespace hive::codec {
namespace {

using Status = DeviceResponse::Status;

constexpr std::array<std::pair<absl::string_view, Status>, 3> kStatusNames = {{
    {"ack", Status::kAck},
    {"ok", Status::kSucceeded},
    {"error", Status::kFailed},
}};

absl::StatusOr<absl::string_view> RequiredString(const rapidjson::Value& object, absl::string_view wire_key,
                                                 absl::string_view standard_key, JsonPath& path) {
  const rapidjson::Value* value = FindMember(object, wire_key);
  auto scope = path.Key(standard_key);
  if (value == nullptr) return path.Error("missing");
  if (!value->IsString() || value->GetStringLength() == 0) {
    return path.Error(absl::StrCat("expected non-empty string, got ", DescribeJson(*value)));
  }
  return ViewOf(*value);
}

}  // namespace

bool IsHivekitAck(const rapidjson::Value& object) {
  return object.IsObject() && FindMember(object, "cid") != nullptr && FindMember(object, "res") != nullptr;
}

absl::StatusOr<DeviceResponse> DecodeDeviceResponse(const rapidjson::Value& object, Dialect dialect, JsonPath& path) {
  if (!object.IsObject()) return path.Error(absl::StrCat("expected object, got ", DescribeJson(object)));
  if (std::optional<absl::string_view> duplicate = FindDuplicateKey(object)) {
    return path.Error(absl::StrCat("duplicate key \"", *duplicate, "\""));
  }
  DeviceResponse response;
  if (FindMember(object, WireKey("type", dialect)) == nullptr && IsHivekitAck(object)) {
    absl::StatusOr<absl::string_view> cid = RequiredString(object, "cid", "cid", path);
    if (!cid.ok()) return cid.status();
    response.request_id = std::string(*cid);
    return response;
  }
  absl::StatusOr<absl::string_view> request = RequiredString(object, WireKey("request", dialect), "request", path);
  if (!request.ok()) return request.status();
  response.request_id = std::string(*request);

  absl::StatusOr<absl::string_view> status = RequiredString(object, WireKey("status", dialect), "status", path);
  if (!status.ok()) return status.status();
  auto known =
      std::find_if(kStatusNames.begin(), kStatusNames.end(), [&](const auto& entry) { return entry.first == *status; });
  if (known == kStatusNames.end()) {
    auto scope = path.Key("status");
    return path.Error(absl::StrCat("unknown status \"", *status, R"("; expected "ack", "ok" or "error")"));
  }
  response.status = known->second;

  if (const rapidjson::Value* result = FindMember(object, WireKey("result", dialect))) {
    auto scope = path.Key("result");
    absl::Status read = ReadStruct(*result, response.result, path, {&response.result_exact_numbers, path.depth()});
    if (!read.ok()) return read;
    response.has_result = true;
  }
  if (const rapidjson::Value* error = FindMember(object, WireKey("error", dialect))) {
    auto scope = path.Key("error");
    if (!error->IsString()) return path.Error(absl::StrCat("expected string, got ", DescribeJson(*error)));
    response.error.assign(error->GetString(), error->GetStringLength());
  }
  return response;
}

std::string EncodeDeviceResponse(const DeviceResponse& response, Dialect dialect) {
  JsonText json(256);
  JsonWriter& writer = json.writer();
  writer.StartObject();
  WriteKey(writer, WireKey("type", dialect));
  WriteString(writer, kDeviceResponseType);
  WriteKey(writer, WireKey("request", dialect));
  WriteString(writer, response.request_id);
  WriteKey(writer, WireKey("status", dialect));
  for (const auto& [name, status] : kStatusNames) {
    if (status == response.status) WriteString(writer, name);
  }
  if (response.has_result) {
    WriteKey(writer, WireKey("result", dialect));
    std::string pointer;
    WriteStruct(response.result, writer, {&response.result_exact_numbers, &pointer});
  }
  if (!response.error.empty()) {
    WriteKey(writer, WireKey("error", dialect));
    WriteString(writer, response.error);
  }
  writer.EndObject();
  return std::move(json).Take();
}

}  // namespace hive::codec

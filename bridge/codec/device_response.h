// bridge/codec/device_response.h
// A device's answer to a device-request, in either form it may take:
//
//   {"type":"device-response","request":R,"status":"ack"}            the ack
//   {"type":"device-response","request":R,"status":"ok","result":{}} the result
//   {"type":"device-response","request":R,"status":"error","error":"..."}
//   {"cid":R,"res":"suc"}      Hivekit's form: an ack, whatever `res` says
#pragma once

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "bridge/codec/dialect.h"
#include "bridge/codec/json_path.h"
#include "bridge/codec/struct_json.h"
#include "google/protobuf/struct.pb.h"
#include "rapidjson/document.h"

namespace hive::codec {

inline constexpr absl::string_view kDeviceResponseType = "device-response";

struct DeviceResponse {
  enum class Status { kAck, kSucceeded, kFailed };

  std::string request_id;
  Status status = Status::kAck;
  bool has_result = false;
  google::protobuf::Struct result;
  ExactNumbers result_exact_numbers;
  std::string error;
};

// True for an object in Hivekit's `{"cid":..., "res":...}` form (no type).
bool IsHivekitAck(const rapidjson::Value& object);

// Reads a response object (either form).
absl::StatusOr<DeviceResponse> DecodeDeviceResponse(const rapidjson::Value& object, Dialect dialect, JsonPath& path);

// Writes the `device-response` form (devices and simulators use this).
std::string EncodeDeviceResponse(const DeviceResponse& response, Dialect dialect);

}  // namespace hive::codec

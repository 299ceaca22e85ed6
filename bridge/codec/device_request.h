// bridge/codec/device_request.h
// DeviceRequest ⇄ the seed's `device-request` JSON object:
//
//   {"account": A, "command": "SchedulerAction.stop", "type": "device-request",
//    "service": "hive-backend", "request": R, "device": D,
//    "payload": {...the command's fields...}, "state": {...}}
//
// `command` is "<Kind>.<action>" for the typed commands and the RawCommand's
// own string otherwise; `state` is written only when set. A request whose
// command the schema does not know decodes into a RawCommand, so nothing is
// lost.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "bridge/codec/dialect.h"
#include "bridge/codec/json_path.h"
#include "hive/bridge/v1/commands.pb.h"
#include "rapidjson/document.h"

namespace hive::codec {

// The wire command, e.g. "SchedulerAction.stop"; INVALID_ARGUMENT naming the
// field when no kind or no action is set.
absl::StatusOr<std::string> WireCommandOf(const hive::bridge::v1::Command& command);

// Writes the request; fails only where WireCommandOf does.
absl::StatusOr<std::string> EncodeDeviceRequest(const hive::bridge::v1::DeviceRequest& request, Dialect dialect);

// What the bridge sends a device, borrowed from wherever it already lives
// (the gRPC call's own request), so delivery copies no command.
struct DeviceRequestParts {
  absl::string_view request_id;
  absl::string_view device_id;
  absl::string_view account_id;
  const hive::bridge::v1::Command& command;
  const hive::bridge::v1::ExpectedState* state = nullptr;  // null: none
};

// The same JSON as the DeviceRequest with these fields and no `extra`.
absl::StatusOr<std::string> EncodeDeviceRequest(const DeviceRequestParts& request, Dialect dialect);

// Reads a `device-request` object.
absl::StatusOr<hive::bridge::v1::DeviceRequest> DecodeDeviceRequest(const rapidjson::Value& object, Dialect dialect,
                                                                    JsonPath& path);

}  // namespace hive::codec

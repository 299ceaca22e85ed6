// bridge/codec/device_request.h
// DeviceRequest ⇄ the seed's `device-request` JSON object:
//
//   {"account": A, "command": "SchedulerAction.stop", "type": "device-request",
//    "service": "hive-backend", "request": R, "device": D,
//    "payload": {...the command's fields...}, "state": {...}}
//
// `command` is "<Kind>.<action>" for the typed commands and the RawCommand's
// own string otherwise; `state` is written only when set, and so is a last
// top-level `traceparent` (W3C Trace Context, the same key in both dialects;
// only with --trace-to-device, so the seed's shape stays exact by default).
// A request whose command the schema does not know decodes into a
// RawCommand, so nothing is lost (a `traceparent` read back lands in
// `extra`).
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
// field when no kind or no action is set, or when an `extra` key of the typed
// command would duplicate a typed field's key on the wire (CheckExtraKeys).
// SendDeviceRequest validates a request with it before anything is sent.
absl::StatusOr<std::string> WireCommandOf(const hive::bridge::v1::Command& command);

// Writes the request; fails where WireCommandOf does, but for `extra` keys
// only checked against `dialect`'s (a compact request read back may keep a
// standard spelling in `extra`, which the compact dialect writes once).
absl::StatusOr<std::string> EncodeDeviceRequest(const hive::bridge::v1::DeviceRequest& request, Dialect dialect);

// What the bridge sends a device, borrowed from wherever it already lives
// (the gRPC call's own request), so delivery copies no command.
struct DeviceRequestParts {
  absl::string_view request_id;
  absl::string_view device_id;
  absl::string_view account_id;
  const hive::bridge::v1::Command& command;
  const hive::bridge::v1::ExpectedState* state = nullptr;  // null: none
  // Written as the last member when not empty (--trace-to-device).
  absl::string_view traceparent = {};
};

// The same JSON as the DeviceRequest with these fields and no `extra`. This
// is how the bridge writes a backend's request, so, like WireCommandOf, it
// refuses `extra` keys (of the command and of `state`) that a typed field
// spells in either dialect.
absl::StatusOr<std::string> EncodeDeviceRequest(const DeviceRequestParts& request, Dialect dialect);

// Reads a `device-request` object.
absl::StatusOr<hive::bridge::v1::DeviceRequest> DecodeDeviceRequest(const rapidjson::Value& object, Dialect dialect,
                                                                    JsonPath& path);

}  // namespace hive::codec

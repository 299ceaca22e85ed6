// bridge/codec/device_event.h
// A device event's JSON object ⇄ DeviceEvent.
//
// The object's standard fields map to device_id, account_id, service and
// type; `type` picks the typed body (instances, instance-state,
// device-version, device-state, and the bridge's own device-alive,
// device-connected, device-disconnected, gap); an unknown type gets the
// `generic` body. Everything else lands in `extra`, so
// EncodeDeviceEvent(DecodeDeviceEvent(x)) is the same JSON value as x.
// sequence, epoch and received_at are the hub's and never travel.
//
// An event is never refused for its fields: when they do not fit the typed
// body of their type (`{"type":"device-state","state":{"disk":"low"}}`), the
// event is read with the generic body instead, every member in `extra` as
// sent, and `schema_error` says what the strict reading found ("state:
// expected string, got object", relative to the event object). An envelope
// field that is not a string is dropped and named in `schema_error` too, the
// body staying typed. Only what is no event at all fails: not an object, no
// non-empty string `type`, a duplicate key.
#pragma once

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "bridge/codec/dialect.h"
#include "bridge/codec/json_path.h"
#include "hive/bridge/v1/events.pb.h"
#include "rapidjson/document.h"

namespace hive::codec {

inline constexpr absl::string_view kDeviceService = "hive-device";
inline constexpr absl::string_view kBackendService = "hive-backend";

// Event types only the bridge may produce; a device sending one is refused.
bool IsBridgeEventType(absl::string_view type);

// A type with a typed body that devices may send (instances, instance-state,
// device-version, device-state).
bool IsKnownDeviceEventType(absl::string_view type);

// Reads one event object; `path` locates it in its frame for errors.
absl::StatusOr<hive::bridge::v1::DeviceEvent> DecodeDeviceEvent(const rapidjson::Value& object, Dialect dialect,
                                                                JsonPath& path);

// Writes the event as its JSON object.
std::string EncodeDeviceEvent(const hive::bridge::v1::DeviceEvent& event, Dialect dialect);

// Sets the body of `event` for its `type` (generic when the type is unknown).
void SetBodyForType(hive::bridge::v1::DeviceEvent& event);

}  // namespace hive::codec

// bridge/codec/device_frame.h
// Splits one WebSocket text frame from a device into its messages. A frame
// holds one JSON object or a Hivekit batch (an array of objects); each object
// is a device-response (or Hivekit ack) or else a device event.
//
// A frame that is not JSON, too deep or too long fails as a whole; a bad
// member of a batch fails alone, carrying the `cid` to echo in its error reply,
// while the rest of the batch still counts. An event whose fields do not fit
// its type is no bad member: it decodes with a `schema_error` (device_event.h),
// counted in SchemaErrorCounts::OfProcess().
#pragma once

#include <cstddef>
#include <string>
#include <variant>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "bridge/codec/device_response.h"
#include "bridge/codec/dialect.h"
#include "bridge/codec/json_document.h"
#include "hive/bridge/v1/events.pb.h"

namespace hive::codec {

using DeviceMessage = std::variant<hive::bridge::v1::DeviceEvent, DeviceResponse>;

struct FrameLimits {
  ParseLimits parse;
  // The most objects one batch frame may hold.
  size_t max_batch = 256;
};

struct FrameItem {
  absl::StatusOr<DeviceMessage> message;
  // The member's `cid` (or `request`), to echo in an error reply; may be empty.
  std::string cid;
};

absl::StatusOr<std::vector<FrameItem>> DecodeDeviceFrame(absl::string_view text, Dialect dialect,
                                                         const FrameLimits& limits);

}  // namespace hive::codec

// bridge/codec/bridge_reply.h
// The bridge's own messages to a device, besides device requests:
//   {"service":"hive-backend","type":"authenticated","device":D,"account":A}
//   {"service":"hive-backend","type":"error","error":"...","cid":C}
// (`cid` only when the offending message carried one).
#pragma once

#include <string>
#include "absl/strings/string_view.h"

#include "bridge/codec/dialect.h"

namespace hive::codec {

std::string EncodeAuthenticatedReply(absl::string_view device_id, absl::string_view account_id, Dialect dialect);

std::string EncodeErrorReply(absl::string_view error, absl::string_view cid, Dialect dialect);

}  // namespace hive::codec

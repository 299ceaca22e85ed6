// server/http_query_params.h
// Query parameters onto a request message, as grpc-gateway maps them for GET
// calls: a parameter names a field by its proto name (page_size) or its JSON
// name (pageSize), nested fields with dots (resume_after.epoch); a repeated
// field takes the parameter once per value (types=a&types=b); an enum takes
// its value's name or number; a bool true or false. Anything else is
// INVALID_ARGUMENT naming the parameter, so a typo is never ignored.
//
//   ListDevicesRequest request;
//   absl::Status set = SetQueryParameter(request, "presence", "PRESENCE_ALL");
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive::server {

absl::Status SetQueryParameter(google::protobuf::Message& message, absl::string_view name, absl::string_view value);

// "<epoch>:<sequence>", the `id:` of an event on the gateway's event stream
// (and its Last-Event-ID), as a resume point; `what` names the source in the
// error.
absl::StatusOr<hive::bridge::v1::StreamPosition> ParseStreamPosition(absl::string_view text, absl::string_view what);

}  // namespace hive::server

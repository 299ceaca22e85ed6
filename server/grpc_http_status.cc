#include "server/grpc_http_status.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace hive::server {

// The message is a string Value written by protobuf's JSON printer, so it is
// escaped as every other body of the gateway; the object around it is
// spelled here because a Struct would print its keys in hash order, and
// clients (and people) read code, message, details in that order.
std::string ErrorBody(grpc::StatusCode code, absl::string_view message) {
  google::protobuf::Value text;
  text.set_string_value(std::string(message));
  std::string quoted;
  if (!google::protobuf::util::MessageToJsonString(text, &quoted).ok()) quoted = R"("")";
  return absl::StrCat(R"({"code":)", static_cast<int>(code), R"(,"message":)", quoted, R"(,"details":[]})");
}

}  // namespace hive::server

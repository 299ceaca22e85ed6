#include "bridge/codec/bridge_reply.h"

#include <utility>

#include "bridge/codec/compact_keys.h"
#include "bridge/codec/device_event.h"
#include "bridge/codec/json_writer.h"

namespace hive::codec {
namespace {

void WriteEnvelope(JsonWriter& writer, absl::string_view type, Dialect dialect) {
  WriteKey(writer, WireKey("service", dialect));
  WriteString(writer, kBackendService);
  WriteKey(writer, WireKey("type", dialect));
  WriteString(writer, type);
}

}  // namespace

std::string EncodeAuthenticatedReply(absl::string_view device_id, absl::string_view account_id, Dialect dialect) {
  JsonText json(256);
  JsonWriter& writer = json.writer();
  writer.StartObject();
  WriteEnvelope(writer, "authenticated", dialect);
  WriteKey(writer, WireKey("device", dialect));
  WriteString(writer, device_id);
  WriteKey(writer, WireKey("account", dialect));
  WriteString(writer, account_id);
  writer.EndObject();
  return std::move(json).Take();
}

std::string EncodeErrorReply(absl::string_view error, absl::string_view cid, Dialect dialect) {
  JsonText json(256);
  JsonWriter& writer = json.writer();
  writer.StartObject();
  WriteEnvelope(writer, "error", dialect);
  WriteKey(writer, WireKey("error", dialect));
  WriteString(writer, error);
  if (!cid.empty()) {
    WriteKey(writer, "cid");
    WriteString(writer, cid);
  }
  writer.EndObject();
  return std::move(json).Take();
}

}  // namespace hive::codec

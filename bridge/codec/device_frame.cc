#include "bridge/codec/device_frame.h"

#include "absl/strings/str_cat.h"
#include "bridge/codec/compact_keys.h"
#include "bridge/codec/device_event.h"
#include "bridge/codec/schema_error_counts.h"

namespace hive::codec {
namespace {

std::string CidOf(const rapidjson::Value& object, Dialect dialect) {
  if (!object.IsObject()) return {};
  for (absl::string_view key : {absl::string_view("cid"), WireKey("request", dialect)}) {
    const rapidjson::Value* value = FindMember(object, key);
    if (value != nullptr && value->IsString()) return std::string(ViewOf(*value));
  }
  return {};
}

bool IsDeviceResponse(const rapidjson::Value& object, Dialect dialect) {
  const rapidjson::Value* type = FindMember(object, WireKey("type", dialect));
  if (type == nullptr) return IsHivekitAck(object);
  return type->IsString() && ViewOf(*type) == kDeviceResponseType;
}

FrameItem DecodeMember(const rapidjson::Value& object, Dialect dialect, JsonPath& path) {
  FrameItem item{absl::UnknownError("not decoded"), CidOf(object, dialect)};
  if (!object.IsObject()) {
    item.message = path.Error(absl::StrCat("expected object, got ", DescribeJson(object)));
  } else if (IsDeviceResponse(object, dialect)) {
    absl::StatusOr<DeviceResponse> response = DecodeDeviceResponse(object, dialect, path);
    if (response.ok()) {
      item.message = std::move(*response);
    } else {
      item.message = response.status();
    }
  } else {
    absl::StatusOr<hive::bridge::v1::DeviceEvent> event = DecodeDeviceEvent(object, dialect, path);
    if (event.ok()) {
      // The bridge's own types are refused whatever their fields (by the
      // session), so only what may be relayed counts.
      if (!event->schema_error().empty() && !IsBridgeEventType(event->type())) {
        SchemaErrorCounts::OfProcess().Count(event->type());
      }
      item.message = std::move(*event);
    } else {
      item.message = event.status();
    }
  }
  return item;
}

}  // namespace

absl::StatusOr<std::vector<FrameItem>> DecodeDeviceFrame(absl::string_view text, Dialect dialect,
                                                         const FrameLimits& limits) {
  ScratchDocument doc;
  if (absl::Status status = ParseJson(text, limits.parse, doc); !status.ok()) return status;
  std::vector<FrameItem> items;
  JsonPath path;
  if (doc.IsObject()) {
    items.push_back(DecodeMember(doc, dialect, path));
    return items;
  }
  if (!doc.IsArray()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a frame holds a JSON object or an array of objects, got ", DescribeJson(doc)));
  }
  if (doc.Size() > limits.max_batch) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch of ", doc.Size(), " messages exceeds the limit of ", limits.max_batch));
  }
  items.reserve(doc.Size());
  for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
    auto scope = path.Index(i);
    items.push_back(DecodeMember(doc[i], dialect, path));
  }
  return items;
}

}  // namespace hive::codec

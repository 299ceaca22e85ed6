#include "clients/loadgen/event_stamp.h"

#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bridge/codec/device_event.h"
#include "bridge/codec/json_document.h"
#include "hive/bridge/v1/events.pb.h"
#include "rapidjson/document.h"

namespace hive::loadgen {
namespace {

// Stands in for the stamp while the event is encoded; as wide as a stamp.
const std::string& Placeholder() {
  static const std::string* const text = new std::string(FormatStamp({}));
  return *text;
}

}  // namespace

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string FormatStamp(const EventStamp& stamp) {
  return absl::StrFormat("%08u.%016u.%020d", stamp.slot, stamp.seq, stamp.sent_nanos);
}

std::optional<EventStamp> ParseStamp(absl::string_view text) {
  const std::vector<absl::string_view> parts = absl::StrSplit(text, '.');
  EventStamp stamp;
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &stamp.slot) || !absl::SimpleAtoi(parts[1], &stamp.seq) ||
      !absl::SimpleAtoi(parts[2], &stamp.sent_nanos)) {
    return std::nullopt;
  }
  return stamp;
}

std::optional<EventStamp> StampOfFrame(absl::string_view frame) {
  rapidjson::Document doc;
  doc.Parse(frame.data(), frame.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  const rapidjson::Value* stamp = codec::FindMember(doc, kStampKey);
  if (stamp == nullptr || !stamp->IsString()) return std::nullopt;
  return ParseStamp(codec::ViewOf(*stamp));
}

StampedEventFrame::StampedEventFrame(const std::string& device_id, const std::string& account_id) {
  hive::bridge::v1::DeviceEvent event;
  event.set_device_id(device_id);
  event.set_account_id(account_id);
  event.set_service(std::string(codec::kDeviceService));
  event.set_type(std::string(kStampedEventType));
  auto& state = *event.mutable_device_state();
  state.set_state("ok");
  state.set_message("Disk space fine on /data");
  state.set_disk_free_bytes(12'884'901'888);
  state.set_disk_total_bytes(32'000'000'000);
  (*event.mutable_extra()->mutable_fields())[std::string(kStampKey)].set_string_value(Placeholder());
  const std::string text = codec::EncodeDeviceEvent(event, codec::Dialect::kStandard);
  const size_t at = text.find(Placeholder());
  before_ = text.substr(0, at);
  after_ = text.substr(at + Placeholder().size());
}

std::string StampedEventFrame::With(const EventStamp& stamp) const {
  return absl::StrCat(before_, FormatStamp(stamp), after_);
}

}  // namespace hive::loadgen

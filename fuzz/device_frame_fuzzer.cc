// fuzz/device_frame_fuzzer.cc
// Fuzzes hive::codec::DecodeDeviceFrame, the first code to see a device's
// text frame once it is authenticated. Input: one flags byte (bit 0: the
// hive.compact.v1 dialect, else hive.v1), then the frame, decoded with the
// default FrameLimits.
//
// Beyond "no crash, no sanitizer report", it checks what the codec promises:
//  - every failure is INVALID_ARGUMENT with a message that is valid UTF-8
//    (it goes back to the device in an error reply, a WebSocket text frame);
//  - an object with a non-empty string `type` is never refused as an event
//    for its fields: only a duplicate key fails it (a known type whose
//    fields do not fit decodes generic, with a schema_error);
//  - every decoded event re-encodes (EncodeDeviceEvent), and the encoding
//    decodes as one event equal to the first but for its schema_error (which
//    names the first misfit in member order, and the encoding sorts `extra`),
//    which stays empty if it was, and encodes again to the very same bytes;
//  - the encoding is the same JSON value as the member the device sent
//    (lossless, docs/architecture.md#lossless-relay), but for the envelope
//    (always written; a non-string one is dropped) and the empty repeated and
//    map fields ([] and {}) the encoder always writes, and for bridge-only
//    types, which a session refuses anyway;
//  - every decoded response does the same through EncodeDeviceResponse, and
//    keeps its `result` object as the same JSON value.
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "bridge/codec/compact_keys.h"
#include "bridge/codec/device_event.h"
#include "bridge/codec/device_frame.h"
#include "bridge/codec/device_response.h"
#include "bridge/codec/json_document.h"
#include "fuzz/fuzz_support.h"
#include "rapidjson/document.h"

namespace hive::fuzz {
namespace {

using codec::DecodeDeviceFrame;
using codec::DeviceMessage;
using codec::DeviceResponse;
using codec::Dialect;
using codec::FrameLimits;
using codec::WireKey;
using hive::bridge::v1::DeviceEvent;

void CheckFailure(const absl::Status& status, absl::string_view what) {
  HIVE_FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument, what, " failed with ", status.ToString());
  HIVE_FUZZ_CHECK(!status.message().empty(), what, " failed without a message");
  HIVE_FUZZ_CHECK(IsValidUtf8(status.message()), what, " failed with a message that is not UTF-8: ", status.message());
}

// Decodes a frame the codec itself wrote: it must hold exactly one message.
DeviceMessage DecodeOwnEncoding(const std::string& text, Dialect dialect) {
  absl::StatusOr<std::vector<codec::FrameItem>> items = DecodeDeviceFrame(text, dialect, FrameLimits{});
  HIVE_FUZZ_CHECK(items.ok(), "the codec's own encoding does not decode: ", items.status().ToString(),
                  "\nencoding: ", text);
  HIVE_FUZZ_CHECK(items->size() == 1, "the codec's own encoding holds ", items->size(), " messages: ", text);
  codec::FrameItem& item = (*items)[0];
  HIVE_FUZZ_CHECK(item.message.ok(), "the codec's own encoding does not decode: ", item.message.status().ToString(),
                  "\nencoding: ", text);
  return *std::move(item.message);
}

rapidjson::Document ParseOwnEncoding(const std::string& text) {
  rapidjson::Document doc;
  absl::Status parsed = codec::ParseJson(text, DeepLimits(), doc);
  HIVE_FUZZ_CHECK(parsed.ok(), "the codec's own encoding is not JSON: ", parsed.ToString(), "\nencoding: ", text);
  return doc;
}

void CheckEvent(const DeviceEvent& event, const rapidjson::Value& sent, Dialect dialect) {
  const std::string text = codec::EncodeDeviceEvent(event, dialect);
  DeviceMessage again = DecodeOwnEncoding(text, dialect);
  auto* event_again = std::get_if<DeviceEvent>(&again);
  HIVE_FUZZ_CHECK(event_again != nullptr, "an encoded event decodes as a response: ", text);
  HIVE_FUZZ_CHECK(!event.schema_error().empty() || event_again->schema_error().empty(),
                  "a well-formed event's encoding decodes with a schema_error: ", event_again->schema_error(),
                  "\nencoding: ", text);
  DeviceEvent event_copy = event;
  event_copy.clear_schema_error();
  event_again->clear_schema_error();
  const std::string diff = ProtoDiff(event_copy, *event_again);
  HIVE_FUZZ_CHECK(diff.empty(), "decode(encode(event)) != event\n", diff, "encoding: ", text);
  const std::string text_again = codec::EncodeDeviceEvent(*event_again, dialect);
  HIVE_FUZZ_CHECK(text_again == text, "encoding is not stable\nfirst:  ", text, "\nsecond: ", text_again);

  if (codec::IsBridgeEventType(event.type())) return;
  // The encoder always writes the envelope; the device may have left it out.
  rapidjson::Document expected;
  expected.CopyFrom(sent, expected.GetAllocator());
  for (absl::string_view key : {"device", "account", "service"}) {
    absl::string_view wire = WireKey(key, dialect);
    if (rapidjson::Value* value = const_cast<rapidjson::Value*>(codec::FindMember(expected, wire))) {
      if (!value->IsString()) value->SetString("", expected.GetAllocator());
    } else {
      expected.AddMember(
          rapidjson::Value(wire.data(), static_cast<rapidjson::SizeType>(wire.size()), expected.GetAllocator()),
          rapidjson::Value(rapidjson::kStringType), expected.GetAllocator());
    }
  }
  rapidjson::Document written = ParseOwnEncoding(text);
  HIVE_FUZZ_CHECK(SameJsonValue(expected, written, /*empty_may_appear=*/true),
                  "the encoded event is not the JSON value the device sent\nsent:     ", JsonText(sent),
                  "\nencoding: ", text);
}

// An event (an object with a non-empty string `type` that is no response) is
// refused only when it cannot be read at all: a duplicate key somewhere.
void CheckNotRefusedForItsFields(const rapidjson::Value& member, const absl::Status& status, Dialect dialect) {
  if (!member.IsObject()) return;
  const rapidjson::Value* type = codec::FindMember(member, WireKey("type", dialect));
  if (type == nullptr || !type->IsString() || type->GetStringLength() == 0) return;
  if (codec::ViewOf(*type) == codec::kDeviceResponseType) return;
  HIVE_FUZZ_CHECK(absl::StrContains(status.message(), "duplicate key"),
                  "an event was refused for its fields: ", status.message(), "\nsent: ", JsonText(member));
}

bool SameResponse(const DeviceResponse& a, const DeviceResponse& b, std::string* diff) {
  if (a.request_id != b.request_id) absl::StrAppend(diff, "request_id: ", a.request_id, " vs ", b.request_id, "\n");
  if (a.status != b.status) absl::StrAppend(diff, "status differs\n");
  if (a.has_result != b.has_result) absl::StrAppend(diff, "has_result differs\n");
  if (a.error != b.error) absl::StrAppend(diff, "error: ", a.error, " vs ", b.error, "\n");
  absl::StrAppend(diff, ProtoDiff(a.result, b.result));
  if (a.result_exact_numbers.size() != b.result_exact_numbers.size()) {
    absl::StrAppend(diff, "result_exact_numbers sizes differ\n");
  } else {
    for (const auto& [pointer, literal] : a.result_exact_numbers) {
      auto it = b.result_exact_numbers.find(pointer);
      if (it == b.result_exact_numbers.end() || it->second != literal) {
        absl::StrAppend(diff, "result_exact_numbers[", pointer, "] differs\n");
      }
    }
  }
  return diff->empty();
}

void CheckResponse(const DeviceResponse& response, const rapidjson::Value& sent, Dialect dialect) {
  HIVE_FUZZ_CHECK(!response.request_id.empty(), "a response without a request id was accepted");
  const std::string text = codec::EncodeDeviceResponse(response, dialect);
  DeviceMessage again = DecodeOwnEncoding(text, dialect);
  const auto* response_again = std::get_if<DeviceResponse>(&again);
  HIVE_FUZZ_CHECK(response_again != nullptr, "an encoded response decodes as an event: ", text);
  std::string diff;
  HIVE_FUZZ_CHECK(SameResponse(response, *response_again, &diff), "decode(encode(response)) != response\n", diff,
                  "encoding: ", text);
  HIVE_FUZZ_CHECK(codec::EncodeDeviceResponse(*response_again, dialect) == text, "encoding is not stable: ", text);

  // A response keeps no unknown members, but its result is kept whole.
  const rapidjson::Value* sent_result = codec::FindMember(sent, WireKey("result", dialect));
  if (sent_result == nullptr || codec::FindMember(sent, WireKey("type", dialect)) == nullptr) return;
  rapidjson::Document written = ParseOwnEncoding(text);
  const rapidjson::Value* written_result = codec::FindMember(written, WireKey("result", dialect));
  HIVE_FUZZ_CHECK(written_result != nullptr && SameJsonValue(*sent_result, *written_result),
                  "the encoded result is not the JSON value the device sent\nsent:     ", JsonText(sent),
                  "\nencoding: ", text);
}

}  // namespace
}  // namespace hive::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hive::fuzz;  // NOLINT: the entry point is outside the namespace
  FuzzInput in(data, size);
  const Dialect dialect = (in.flags() & 1) != 0 ? Dialect::kCompact : Dialect::kStandard;
  absl::StatusOr<std::vector<hive::codec::FrameItem>> items = DecodeDeviceFrame(in.text(), dialect, FrameLimits{});
  if (!items.ok()) {
    CheckFailure(items.status(), "the frame");
    return 0;
  }
  // The frame is JSON (it decoded): parse it again for what each member was.
  rapidjson::Document sent;
  HIVE_FUZZ_CHECK(hive::codec::ParseJson(in.text(), FrameLimits{}.parse, sent).ok(), "decoded but does not parse");
  HIVE_FUZZ_CHECK(sent.IsObject() ? items->size() == 1 : sent.IsArray() && items->size() == sent.Size(),
                  "one item per member expected, got ", items->size());
  for (size_t i = 0; i < items->size(); ++i) {
    const hive::codec::FrameItem& item = (*items)[i];
    const rapidjson::Value& member = sent.IsObject() ? sent : sent[static_cast<rapidjson::SizeType>(i)];
    HIVE_FUZZ_CHECK(IsValidUtf8(item.cid), "the cid to echo is not UTF-8");
    if (!item.message.ok()) {
      CheckFailure(item.message.status(), "a member");
      CheckNotRefusedForItsFields(member, item.message.status(), dialect);
      continue;
    }
    if (const auto* event = std::get_if<DeviceEvent>(&*item.message)) {
      CheckEvent(*event, member, dialect);
    } else {
      CheckResponse(std::get<DeviceResponse>(*item.message), member, dialect);
    }
  }
  return 0;
}

// fuzz/device_request_fuzzer.cc
// Fuzzes the device-request codec (bridge/codec/device_request.h), which the
// device simulator and the clients use to read what the bridge sends. Input:
// one flags byte (bit 0: the hive.compact.v1 dialect, else hive.v1), then the
// JSON text of a `device-request` object.
//
// Checks, for every request that decodes:
//  - it encodes (EncodeDeviceRequest), the encoding decodes to an equal
//    DeviceRequest and encodes again to the very same bytes;
//  - the encoding is the same JSON value as the input (lossless,
//    docs/architecture.md#lossless-relay), but for `service`, which the
//    bridge always writes as "hive-backend", `payload`, which it always
//    writes ({} when empty), and empty repeated and map fields, which it
//    writes as [] and {};
// and that every failure is INVALID_ARGUMENT with a UTF-8 message.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bridge/codec/compact_keys.h"
#include "bridge/codec/device_event.h"
#include "bridge/codec/device_request.h"
#include "bridge/codec/json_document.h"
#include "bridge/codec/json_path.h"
#include "fuzz/fuzz_support.h"
#include "rapidjson/document.h"

namespace hive::fuzz {
namespace {

using codec::Dialect;
using codec::WireKey;
using hive::bridge::v1::DeviceRequest;

void CheckFailure(const absl::Status& status) {
  HIVE_FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument, "failed with ", status.ToString());
  HIVE_FUZZ_CHECK(!status.message().empty(), "failed without a message");
  HIVE_FUZZ_CHECK(IsValidUtf8(status.message()), "failed with a message that is not UTF-8");
}

absl::StatusOr<DeviceRequest> Decode(absl::string_view text, Dialect dialect, rapidjson::Document& doc) {
  if (absl::Status parsed = codec::ParseJson(text, codec::ParseLimits{}, doc); !parsed.ok()) return parsed;
  codec::JsonPath path;
  return codec::DecodeDeviceRequest(doc, dialect, path);
}

void SetMember(rapidjson::Document& doc, absl::string_view key, rapidjson::Value value) {
  auto& allocator = doc.GetAllocator();
  auto it = doc.FindMember(rapidjson::StringRef(key.data(), key.size()));
  if (it != doc.MemberEnd()) {
    it->value = std::move(value);
  } else {
    doc.AddMember(rapidjson::Value(key.data(), static_cast<rapidjson::SizeType>(key.size()), allocator), value,
                  allocator);
  }
}

void CheckRequest(const DeviceRequest& request, const rapidjson::Document& sent, Dialect dialect) {
  absl::StatusOr<std::string> text = codec::EncodeDeviceRequest(request, dialect);
  HIVE_FUZZ_CHECK(text.ok(), "a decoded request does not encode: ", text.status().ToString(), "\nrequest:\n",
                  request.DebugString());

  rapidjson::Document written;
  absl::StatusOr<DeviceRequest> again = Decode(*text, dialect, written);
  HIVE_FUZZ_CHECK(again.ok(), "the codec's own encoding does not decode: ", again.status().ToString(),
                  "\nencoding: ", *text);
  const std::string diff = ProtoDiff(request, *again);
  HIVE_FUZZ_CHECK(diff.empty(), "decode(encode(request)) != request\n", diff, "encoding: ", *text);
  absl::StatusOr<std::string> text_again = codec::EncodeDeviceRequest(*again, dialect);
  HIVE_FUZZ_CHECK(text_again.ok() && *text_again == *text, "encoding is not stable\nfirst:  ", *text);

  rapidjson::Document expected;
  expected.CopyFrom(sent, expected.GetAllocator());
  // NOLINTNEXTLINE(clang-analyzer-cplusplus.NewDeleteLeaks): rapidjson::Document frees its own allocator
  SetMember(
      expected, WireKey("service", dialect),
      rapidjson::Value(codec::kBackendService.data(), static_cast<rapidjson::SizeType>(codec::kBackendService.size())));
  if (codec::FindMember(expected, WireKey("payload", dialect)) == nullptr) {
    SetMember(expected, WireKey("payload", dialect), rapidjson::Value(rapidjson::kObjectType));
  }
  HIVE_FUZZ_CHECK(SameJsonValue(expected, written, /*empty_may_appear=*/true),
                  "the encoded request is not the JSON value sent\nsent:     ", JsonText(sent), "\nencoding: ", *text);
}

}  // namespace
}  // namespace hive::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hive::fuzz;  // NOLINT: the entry point is outside the namespace
  FuzzInput in(data, size);
  const Dialect dialect = (in.flags() & 1) != 0 ? Dialect::kCompact : Dialect::kStandard;
  rapidjson::Document sent;
  absl::StatusOr<DeviceRequest> request = Decode(in.text(), dialect, sent);
  if (!request.ok()) {
    CheckFailure(request.status());
    return 0;
  }
  CheckRequest(*request, sent, dialect);
  return 0;
}

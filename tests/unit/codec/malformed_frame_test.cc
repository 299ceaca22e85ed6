// What the codec says about input it must refuse: one row per kind of bad
// input, each with the status code and the message a device (or an
// operator reading the error reply) gets. Frame-level rows fail the whole
// DecodeDeviceFrame call; item-level rows fail one member of the frame while
// the others still decode; request rows go through DecodeDeviceRequest (the
// device side of a device-request).
#include <cstddef>
#include <ostream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "bridge/codec/device_frame.h"
#include "bridge/codec/device_request.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/codec/codec_test_support.h"

namespace hive::codec {
namespace {

using ::testing::HasSubstr;

enum class Where { kFrame, kItem, kRequest };

struct MalformedCase {
  std::string name;
  std::string text;
  Where where = Where::kFrame;
  std::string message;  // expected substring of the status message
  Dialect dialect = Dialect::kStandard;
  absl::StatusCode code = absl::StatusCode::kInvalidArgument;
  size_t item = 0;               // kItem: the member that fails
  std::vector<size_t> ok_items;  // kItem: members of the batch that still decode
  std::string cid;               // kItem: the cid carried for the error reply
  FrameLimits limits;

  MalformedCase Compact() && {
    dialect = Dialect::kCompact;
    return std::move(*this);
  }
  MalformedCase WithLimits(size_t max_depth, size_t max_batch) && {
    limits.parse.max_depth = max_depth;
    limits.max_batch = max_batch;
    return std::move(*this);
  }
  MalformedCase AtItem(size_t index, std::vector<size_t> others_ok) && {
    item = index;
    ok_items = std::move(others_ok);
    return std::move(*this);
  }
  MalformedCase WithCid(std::string expected) && {
    cid = std::move(expected);
    return std::move(*this);
  }
};

void PrintTo(const MalformedCase& row, std::ostream* out) { *out << row.name; }

MalformedCase Frame(std::string name, std::string text, std::string message) {
  MalformedCase row;
  row.name = std::move(name);
  row.text = std::move(text);
  row.where = Where::kFrame;
  row.message = std::move(message);
  return row;
}

MalformedCase Item(std::string name, std::string text, std::string message) {
  MalformedCase row = Frame(std::move(name), std::move(text), std::move(message));
  row.where = Where::kItem;
  return row;
}

MalformedCase Request(std::string name, std::string text, std::string message) {
  MalformedCase row = Frame(std::move(name), std::move(text), std::move(message));
  row.where = Where::kRequest;
  return row;
}

// A device-request with `command`, `payload` and more members (standard keys).
std::string RequestJson(const std::string& command, const std::string& payload, const std::string& more = "") {
  return R"({"account":"a","command":")" + command +
         R"(","type":"device-request","service":"hive-backend","request":"r","device":"d","payload":)" + payload +
         more + "}";
}

std::string Nested(size_t levels) {
  return R"({"type":"x","deep":)" + std::string(levels, '[') + std::string(levels, ']') + "}";
}

const std::vector<MalformedCase>& Rows() {
  static const auto* const rows = new std::vector<MalformedCase>{
      // Not JSON at all, or not the JSON a frame may hold.
      Frame("InvalidJsonNamesTheByteOffset", R"({"type":"x" "a":1})",
            "invalid JSON at byte 12: Missing a comma or '}' after an object member."),
      Frame("TruncatedObject", R"({"type":"x",)", "invalid JSON at byte 12: Missing a name for object member."),
      Frame("TrailingGarbage", R"({"type":"x"} x)", "invalid JSON at byte 13: unexpected data after the value"),
      Frame("TwoObjectsInOneFrame", R"({"type":"a"}{"type":"b"})",
            "invalid JSON at byte 12: unexpected data after the value"),
      Frame("EmptyFrame", "", "invalid JSON at byte 0: The document is empty."),
      Frame("WhitespaceOnlyFrame", " \r\n\t", "invalid JSON at byte 4: The document is empty."),
      Frame("TopLevelString", R"("Bearer abc")",
            R"(a frame holds a JSON object or an array of objects, got string "Bearer abc")"),
      Frame("TopLevelNumber", "42", "a frame holds a JSON object or an array of objects, got number 42"),
      // Found by fuzz/device_request_fuzzer: the quote was cut inside U+2001
      // (3 bytes), leaving a message that was not UTF-8.
      Frame("LongStringIsQuotedUpToAWholeCharacter", "\"abcdefghijklmnopqrstuvwxyz01234\u2001tail\"",
            "a frame holds a JSON object or an array of objects, got string \"abcdefghijklmnopqrstuvwxyz01234…\""),
      Frame("TopLevelNull", "null", "a frame holds a JSON object or an array of objects, got null"),
      Frame("NanIsNotJson", R"({"type":"x","n":NaN})", "invalid JSON at byte 16: Invalid value."),
      // Found by fuzz/device_frame_fuzzer: RapidJSON 1.1 alone read this as NaN.
      Frame("NumberBeyondTheLargestDouble", R"({"type":"x","n":1.8e308})",
            "invalid JSON at byte 16: Number too big to be stored in double."),
      Frame("InvalidUtf8Byte", "{\"type\":\"x\",\"n\":\"\xff\"}",
            "invalid JSON at byte 17: Invalid encoding in string."),
      Frame("OverlongUtf8", "{\"type\":\"x\",\"n\":\"\xc0\xaf\"}",
            "invalid JSON at byte 17: Invalid encoding in string."),
      Frame("InvalidUtf8InKey", "{\"\xed\xa0\x80\":1}", "invalid JSON at byte 2: Invalid encoding in string."),
      Frame("LoneHighSurrogateEscape", R"({"type":"x","n":"\ud800"})",
            "invalid JSON at byte 17: The surrogate pair in string is invalid."),
      Frame("HighSurrogateWithoutLowHalf", R"({"type":"x","n":"\ud800\u0041"})",
            "invalid JSON at byte 17: The surrogate pair in string is invalid."),
      // The parser notices once the string is complete: the offset is past it.
      Frame("LoneLowSurrogateEscape", R"({"type":"x","n":"\udc00"})",
            "invalid JSON at byte 24: The surrogate pair in string is invalid."),
      Frame("LoneLowSurrogateEscapeInKey", R"({"type":"x","\udfff":1})",
            "invalid JSON at byte 20: The surrogate pair in string is invalid."),
      Frame("InvalidEscape", R"({"type":"x","n":"\q"})",
            "invalid JSON at byte 17: Invalid escape character in string."),
      Frame("RawControlCharacterInString", "{\"type\":\"x\",\"n\":\"a\x01\"}",
            "invalid JSON at byte 18: Invalid escape character in string."),
      Frame("NestingDeeperThanTheLimit", Nested(100), "JSON nested deeper than 32 levels").WithLimits(32, 256),
      Frame("BatchLongerThanTheLimit", R"([{"type":"a"},{"type":"b"},{"type":"c"}])",
            "batch of 3 messages exceeds the limit of 2")
          .WithLimits(32, 2),

      // Device events.
      Item("MissingType", R"({"device":"d","state":"x"})", "type: missing"),
      Item("MissingTypeInABatch", R"([{"type":"a"},{"dev":"d","cid":"c-2"},{"type":"c"}])", "[1].type: missing")
          .AtItem(1, {0, 2})
          .WithCid("c-2"),
      Item("EmptyType", R"({"type":""})", R"(type: expected non-empty string, got string "")"),
      Item("TypeNotAString", R"({"type":["device-state"]})", "type: expected non-empty string, got array"),
      Item("StandardTypeKeyInCompactDialect", R"({"type":"device-state"})", "type: missing").Compact(),
      // A known type whose fields do not fit its typed body is no error: it
      // is relayed with a schema_error (schema_fallback_test.cc).
      Item("NonObjectBatchMember", R"([{"type":"a"},7,{"type":"b"}])", "[1]: expected object, got number 7")
          .AtItem(1, {0, 2}),
      Item("ArrayBatchMember", R"([[{"type":"a"}],{"type":"b"}])", "[0]: expected object, got array").AtItem(0, {1}),
      Item("DuplicateTopLevelKey", R"({"type":"x","a":1,"a":2})", R"((root): duplicate key "a")"),
      Item("DuplicateType", R"({"type":"a","type":"b"})", R"((root): duplicate key "type")"),
      // Found by fuzz/device_request_fuzzer: "" read as "no duplicate", which
      // also hid a duplicate "type" after it.
      Item("DuplicateEmptyKey", R"({"":1,"":2,"type":"a","type":"b"})", R"((root): duplicate key "")"),
      Item("DuplicateNestedKey", R"({"type":"x","meta":{"k":1,"k":2}})", R"(meta: duplicate key "k")"),
      Item("DuplicateKeyInTypedObject", R"({"type":"instances","instances":[{"application":{"name":"a","name":"b"}}]})",
           R"(instances[0].application: duplicate key "name")"),
      Item("DuplicateKeyInABatchMember", R"([{"type":"x"},{"type":"y","z":1,"z":2}])", R"([1]: duplicate key "z")")
          .AtItem(1, {0}),

      // Device responses.
      Item("ResponseWithoutRequest", R"({"type":"device-response","status":"ack"})", "request: missing"),
      Item("ResponseWithEmptyRequest", R"({"type":"device-response","request":"","status":"ack"})",
           R"(request: expected non-empty string, got string "")"),
      Item("ResponseWithoutStatus", R"({"type":"device-response","request":"r"})", "status: missing").WithCid("r"),
      Item("ResponseWithUnknownStatus", R"({"type":"device-response","request":"r","status":"done"})",
           R"(status: unknown status "done"; expected "ack", "ok" or "error")")
          .WithCid("r"),
      Item("ResponseWithUnknownStatusCompact", R"({"typ":"device-response","req":"r","sts":"fine"})",
           R"(status: unknown status "fine"; expected "ack", "ok" or "error")")
          .Compact()
          .WithCid("r"),
      Item("ResponseResultNotAnObject", R"({"type":"device-response","request":"r","status":"ok","result":[1]})",
           "result: expected object, got array")
          .WithCid("r"),
      Item("ResponseErrorNotAString", R"({"type":"device-response","request":"r","status":"error","error":{"code":5}})",
           "error: expected string, got object")
          .WithCid("r"),
      Item("ResponseResultWithDuplicateKey",
           R"({"type":"device-response","request":"r","status":"ok","result":{"a":{"b":1,"b":2}}})",
           R"(result.a: duplicate key "b")")
          .WithCid("r"),
      Item("ResponseWithDuplicateStatus", R"({"type":"device-response","request":"r","status":"ack","status":"error"})",
           R"((root): duplicate key "status")")
          .WithCid("r"),
      Item("HivekitAckWithNumericCid", R"({"cid":7,"res":"suc"})", "cid: expected non-empty string, got number 7"),
      Item("BadResponseInABatch",
           R"([{"cid":"c-1","res":"suc"},{"type":"device-response","request":"r-2","status":"maybe"}])",
           R"([1].status: unknown status "maybe")")
          .AtItem(1, {0})
          .WithCid("r-2"),

      // Device requests, as a device reads them.
      Request("UnknownEnumValueInState",
              RequestJson("SchedulerAction.stop", "{}", R"(,"state":{"state":"AppInstanceState.paused"})"),
              R"(state.state: unknown value string "AppInstanceState.paused"; expected one of )"
              R"("AppInstanceState.running", "AppInstanceState.stopped")"),
      Request("UnspecifiedEnumValueInState",
              RequestJson("SchedulerAction.stop", "{}", R"(,"state":{"state":"AppInstanceState.unspecified"})"),
              R"(state.state: unknown value string "AppInstanceState.unspecified")"),
      Request("NumberWhereStringInPayload", RequestJson("SchedulerAction.start", R"({"application":{"version":3}})"),
              "payload.application.version: expected string, got number 3"),
      Request("CompactErrorsUseStandardKeyNames",
              R"({"acc":"a","cmd":"SchedulerAction.start","typ":"device-request","svc":"hive-backend","req":"r",)"
              R"("dev":"d","dat":{"app":{"ver":3}}})",
              "payload.application.version: expected string, got number 3")
          .Compact(),
      Request("BoolAsString", RequestJson("UpgradeDevice.upgrade", R"({"force":"true"})"),
              R"(payload.force: expected true or false, got string "true")"),
      Request("LinksNotAnObject", RequestJson("SchedulerAction.start", R"({"links":[]})"),
              "payload.links: expected object, got array"),
      Request("LinkTokenNotAString", RequestJson("SchedulerAction.start", R"({"links":{"default":{"token":5}}})"),
              "payload.links.default.token: expected string, got number 5"),
      Request("StructFieldNotAnObject", RequestJson("DeviceCommand.reboot", R"({"arguments":5})"),
              "payload.arguments: expected object, got number 5"),
      Request("RawPayloadNotAnObject", RequestJson("Vendor.thing", "[]"), "payload: expected object, got array"),
      Request("StateNotAnObject", RequestJson("SchedulerAction.stop", "{}", R"(,"state":"stopped")"),
              R"(state: expected object, got string "stopped")"),
      Request("DuplicateKeyInPayload", RequestJson("UpgradeDevice.upgrade", R"({"version":"1","version":"2"})"),
              R"(payload: duplicate key "version")"),
      Request("MissingCommand",
              R"({"account":"a","type":"device-request","service":"hive-backend","request":"r","device":"d"})",
              "command: missing"),
      Request("NotADeviceRequest",
              R"({"account":"a","command":"X.y","type":"device-event","request":"r","device":"d"})",
              R"(type: expected "device-request", got "device-event")"),
  };
  return *rows;
}

class MalformedFrame : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedFrame, IsRefusedWithTheSpecificMessage) {
  const MalformedCase& row = GetParam();
  SCOPED_TRACE("input: " + row.text);
  switch (row.where) {
    case Where::kFrame: {
      absl::StatusOr<std::vector<FrameItem>> items = DecodeDeviceFrame(row.text, row.dialect, row.limits);
      ASSERT_FALSE(items.ok()) << "decoded into " << items->size() << " items";
      EXPECT_EQ(items.status().code(), row.code) << items.status();
      EXPECT_THAT(std::string(items.status().message()), HasSubstr(row.message));
      break;
    }
    case Where::kItem: {
      absl::StatusOr<std::vector<FrameItem>> items = DecodeDeviceFrame(row.text, row.dialect, row.limits);
      ASSERT_TRUE(items.ok()) << "the frame failed as a whole: " << items.status();
      ASSERT_GT(items->size(), row.item);
      const FrameItem& bad = (*items)[row.item];
      ASSERT_FALSE(bad.message.ok()) << "item " << row.item << " decoded";
      EXPECT_EQ(bad.message.status().code(), row.code) << bad.message.status();
      EXPECT_THAT(std::string(bad.message.status().message()), HasSubstr(row.message));
      EXPECT_EQ(bad.cid, row.cid);
      EXPECT_EQ(items->size(), row.ok_items.size() + 1);
      for (size_t ok : row.ok_items) {
        ASSERT_GT(items->size(), ok);
        EXPECT_TRUE((*items)[ok].message.ok()) << "item " << ok << ": " << (*items)[ok].message.status();
      }
      break;
    }
    case Where::kRequest: {
      absl::StatusOr<hive::bridge::v1::DeviceRequest> request = hive::testing::DecodeRequestText(row.text, row.dialect);
      ASSERT_FALSE(request.ok()) << "decoded into " << request->DebugString();
      EXPECT_EQ(request.status().code(), row.code) << request.status();
      EXPECT_THAT(std::string(request.status().message()), HasSubstr(row.message));
      break;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Rows, MalformedFrame, ::testing::ValuesIn(Rows()),
                         [](const ::testing::TestParamInfo<MalformedCase>& info) { return info.param.name; });

TEST(MalformedFrameLimits, AcceptsNestingExactlyAtTheLimit) {
  // The object is one level, the arrays the rest.
  FrameLimits limits;
  limits.parse.max_depth = 32;
  EXPECT_TRUE(DecodeDeviceFrame(Nested(31), Dialect::kStandard, limits).ok());
  absl::StatusOr<std::vector<FrameItem>> deeper = DecodeDeviceFrame(Nested(32), Dialect::kStandard, limits);
  ASSERT_FALSE(deeper.ok());
  EXPECT_EQ(deeper.status().message(), "JSON nested deeper than 32 levels");
}

TEST(MalformedFrameLimits, AcceptsABatchExactlyAtTheLimit) {
  FrameLimits limits;
  limits.max_batch = 3;
  absl::StatusOr<std::vector<FrameItem>> items =
      DecodeDeviceFrame(R"([{"type":"a"},{"type":"b"},{"type":"c"}])", Dialect::kStandard, limits);
  ASSERT_TRUE(items.ok()) << items.status();
  EXPECT_EQ(items->size(), 3u);
}

TEST(MalformedFrameLimits, AcceptsAnEmptyBatch) {
  absl::StatusOr<std::vector<FrameItem>> items = DecodeDeviceFrame("[]", Dialect::kStandard, FrameLimits{});
  ASSERT_TRUE(items.ok()) << items.status();
  EXPECT_TRUE(items->empty());
}

TEST(MalformedFrameUnicode, AcceptsCodePointsBesideTheSurrogateRangeAndPairs) {
  // U+D7FF and U+E000 (bytes ED 9F BF, EE 80 80) border the surrogates; a
  // pair is one astral code point. None of them is a lone surrogate.
  absl::StatusOr<std::vector<FrameItem>> items =
      DecodeDeviceFrame(R"({"type":"x","\ud7ff":"\ue000\ud83d\udc1d\udbff\udfff"})", Dialect::kStandard, FrameLimits{});
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_TRUE((*items)[0].message.ok()) << (*items)[0].message.status();
  const auto& event = std::get<hive::bridge::v1::DeviceEvent>(*(*items)[0].message);
  EXPECT_EQ(event.extra().fields().at("\xed\x9f\xbf").string_value(), "\xee\x80\x80\xf0\x9f\x90\x9d\xf4\x8f\xbf\xbf");
}

TEST(MalformedFrameUnicode, NeverHandsOnAStringThatIsNotUtf8) {
  // A lone low surrogate, anywhere a string may be: it must not reach a
  // proto3 string field, which protobuf refuses to parse on the other side.
  for (const std::string frame : {R"({"type":"\udc00"})", R"({"type":"x","a":["\udfff"]})",
                                  R"({"type":"x","a":{"\udc00k":1}})", R"([{"type":"x"},{"type":"y","v":"a\udc01"}])",
                                  R"({"type":"device-response","request":"\udc00","status":"ack"})"}) {
    absl::StatusOr<std::vector<FrameItem>> items = DecodeDeviceFrame(frame, Dialect::kStandard, FrameLimits{});
    ASSERT_FALSE(items.ok()) << frame;
    EXPECT_THAT(std::string(items.status().message()), HasSubstr("The surrogate pair in string is invalid.")) << frame;
  }
}

}  // namespace
}  // namespace hive::codec

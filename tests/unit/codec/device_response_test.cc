#include "bridge/codec/device_response.h"

#include <ostream>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "absl/strings/match.h"
#include "bridge/codec/device_frame.h"
#include "gtest/gtest.h"
#include "tests/unit/codec/codec_test_support.h"
#include "tests/unit/codec/json_assertions.h"

namespace hive::codec {
namespace {

using hive::testing::DecodeResponseText;
using hive::testing::GoldenFileName;
using hive::testing::GoldenPath;
using hive::testing::JList;
using hive::testing::JNum;
using hive::testing::JObj;
using hive::testing::JsonEqual;
using hive::testing::JStr;
using hive::testing::ProtoEqual;
using hive::testing::ReadFile;
using hive::testing::StructOf;

constexpr char kRequest[] = "5e5b0ee5-8774-4ebb-807c-48c9c26c16f8";

DeviceResponse Ack() {
  DeviceResponse response;
  response.request_id = kRequest;
  response.status = DeviceResponse::Status::kAck;
  return response;
}

DeviceResponse OkWithResult() {
  DeviceResponse response;
  response.request_id = kRequest;
  response.status = DeviceResponse::Status::kSucceeded;
  response.has_result = true;
  response.result = StructOf({
      {"free_bytes", JNum(18446744073709551616.0)},
      {"total_bytes", JNum(1099511627776)},
      {"mounts", JList({JObj({{"path", JStr("/")}, {"used", JNum(0.25)}}),
                        JObj({{"path", JStr("/data")}, {"used", JNum(0.91)}})})},
      {"note", JStr("ok ✓")},
  });
  response.result_exact_numbers["/free_bytes"] = "18446744073709551615";
  return response;
}

DeviceResponse Error() {
  DeviceResponse response;
  response.request_id = kRequest;
  response.status = DeviceResponse::Status::kFailed;
  response.error = "disk not mounted: /data";
  return response;
}

::testing::AssertionResult ResponsesEqual(const DeviceResponse& expected, const DeviceResponse& actual) {
  if (expected.request_id != actual.request_id) {
    return ::testing::AssertionFailure() << "request_id " << actual.request_id << " != " << expected.request_id;
  }
  if (expected.status != actual.status) {
    return ::testing::AssertionFailure() << "status " << static_cast<int>(actual.status)
                                         << " != " << static_cast<int>(expected.status);
  }
  if (expected.has_result != actual.has_result) return ::testing::AssertionFailure() << "has_result differs";
  if (::testing::AssertionResult same = ProtoEqual(expected.result, actual.result); !same) return same;
  if (expected.result_exact_numbers.size() != actual.result_exact_numbers.size()) {
    return ::testing::AssertionFailure() << "result_exact_numbers sizes differ";
  }
  for (const auto& [pointer, literal] : expected.result_exact_numbers) {
    auto it = actual.result_exact_numbers.find(pointer);
    if (it == actual.result_exact_numbers.end() || it->second != literal) {
      return ::testing::AssertionFailure() << "result_exact_numbers[" << pointer << "] differs";
    }
  }
  if (expected.error != actual.error) {
    return ::testing::AssertionFailure() << "error \"" << actual.error << "\" != \"" << expected.error << "\"";
  }
  return ::testing::AssertionSuccess();
}

using ResponseGolden = hive::testing::Golden<DeviceResponse>;

// The forms the bridge can write.
const ResponseGolden kEncodableGoldens[] = {
    {"response_ack", &Ack, {}},
    {"response_ok", &OkWithResult, {"18446744073709551615"}},
    {"response_error", &Error, {}},
};

// Every form a device may send, Hivekit's `{"cid":..,"res":"suc"}` included.
const ResponseGolden kDecodableGoldens[] = {
    {"response_ack", &Ack, {}},
    {"response_ok", &OkWithResult, {}},
    {"response_error", &Error, {}},
    {"response_hivekit_ack", &Ack, {}},
};

using GoldenParam = std::tuple<ResponseGolden, Dialect>;

std::string GoldenTextOf(const GoldenParam& param) {
  return ReadFile(GoldenPath(GoldenFileName(std::get<0>(param).stem, std::get<1>(param))));
}

class DeviceResponseEncodeGolden : public ::testing::TestWithParam<GoldenParam> {};
class DeviceResponseDecodeGolden : public ::testing::TestWithParam<GoldenParam> {};

TEST_P(DeviceResponseEncodeGolden, EncodesToTheGoldenFile) {
  const auto& [golden, dialect] = GetParam();
  const std::string json = EncodeDeviceResponse(golden.build(), dialect);
  EXPECT_TRUE(JsonEqual(GoldenTextOf(GetParam()), json));
  for (const std::string& literal : golden.exact_literals) {
    EXPECT_TRUE(absl::StrContains(json, literal)) << literal << " not written exactly in " << json;
  }
}

TEST_P(DeviceResponseDecodeGolden, DecodesTheGoldenFile) {
  const auto& [golden, dialect] = GetParam();
  absl::StatusOr<DeviceResponse> decoded = DecodeResponseText(GoldenTextOf(GetParam()), dialect);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(ResponsesEqual(golden.build(), *decoded));
}

TEST_P(DeviceResponseDecodeGolden, ArrivesThroughTheFrameDecoderAsAResponse) {
  const auto& [golden, dialect] = GetParam();
  absl::StatusOr<std::vector<FrameItem>> items = DecodeDeviceFrame(GoldenTextOf(GetParam()), dialect, FrameLimits{});
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->size(), 1u);
  ASSERT_TRUE((*items)[0].message.ok()) << (*items)[0].message.status();
  const auto* response = std::get_if<DeviceResponse>(&*(*items)[0].message);
  ASSERT_NE(response, nullptr) << "decoded as a device event";
  EXPECT_TRUE(ResponsesEqual(golden.build(), *response));
  EXPECT_EQ((*items)[0].cid, kRequest);
}

INSTANTIATE_TEST_SUITE_P(DeviceResponseCodec, DeviceResponseEncodeGolden,
                         ::testing::Combine(::testing::ValuesIn(kEncodableGoldens),
                                            ::testing::Values(Dialect::kStandard, Dialect::kCompact)),
                         hive::testing::GoldenCaseName());
INSTANTIATE_TEST_SUITE_P(DeviceResponseCodec, DeviceResponseDecodeGolden,
                         ::testing::Combine(::testing::ValuesIn(kDecodableGoldens),
                                            ::testing::Values(Dialect::kStandard, Dialect::kCompact)),
                         hive::testing::GoldenCaseName());

TEST(DeviceResponseCodec, TakesAnyHivekitResultAsAnAck) {
  absl::StatusOr<DeviceResponse> decoded = DecodeResponseText(R"({"cid":"r-1","res":"err"})", Dialect::kStandard);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->request_id, "r-1");
  EXPECT_EQ(decoded->status, DeviceResponse::Status::kAck);
}

TEST(DeviceResponseCodec, RecognisesTheHivekitFormOnlyWithCidAndRes) {
  rapidjson::Document doc;
  doc.Parse(R"({"cid":"r","res":"suc"})");
  EXPECT_TRUE(IsHivekitAck(doc));
  doc.Parse(R"({"cid":"r"})");
  EXPECT_FALSE(IsHivekitAck(doc));
  doc.Parse(R"({"res":"suc"})");
  EXPECT_FALSE(IsHivekitAck(doc));
  doc.Parse(R"([{"cid":"r","res":"suc"}])");
  EXPECT_FALSE(IsHivekitAck(doc));
}

TEST(DeviceResponseCodec, OmitsAnAbsentResultAndAnEmptyError) {
  EXPECT_EQ(EncodeDeviceResponse(Ack(), Dialect::kStandard),
            std::string(R"({"type":"device-response","request":")") + kRequest + R"(","status":"ack"})");
}

TEST(DeviceResponseCodec, KeepsAnEmptyResultObject) {
  DeviceResponse response = Ack();
  response.status = DeviceResponse::Status::kSucceeded;
  response.has_result = true;
  const std::string json = EncodeDeviceResponse(response, Dialect::kCompact);
  EXPECT_TRUE(absl::StrContains(json, R"("rsl":{})")) << json;
  absl::StatusOr<DeviceResponse> decoded = DecodeResponseText(json, Dialect::kCompact);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(ResponsesEqual(response, *decoded));
}

TEST(DeviceResponseCodec, RefusesANonObject) {
  absl::StatusOr<DeviceResponse> decoded = DecodeResponseText(R"(["device-response"])", Dialect::kStandard);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(decoded.status().message(), "(root): expected object, got array");
}

TEST(DeviceResponseCodec, RefusesADuplicateRequestId) {
  // Which pending request would it resolve? Other JSON readers take the last.
  absl::StatusOr<DeviceResponse> decoded =
      DecodeResponseText(R"({"type":"device-response","request":"a","request":"b","status":"ok"})", Dialect::kStandard);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(decoded.status().message(), R"((root): duplicate key "request")");
}

}  // namespace
}  // namespace hive::codec

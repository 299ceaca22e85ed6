#include "bridge/codec/bridge_reply.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/unit/codec/codec_test_support.h"
#include "tests/unit/codec/json_assertions.h"

namespace hive::codec {
namespace {

using hive::testing::DialectName;
using hive::testing::GoldenFileName;
using hive::testing::GoldenPath;
using hive::testing::JsonEqual;
using hive::testing::ReadFile;

constexpr char kAccount[] = "8813b625-e219-4390-9a7b-fe0e22c9e50b";
constexpr char kDevice[] = "d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b";

class BridgeReplyGolden : public ::testing::TestWithParam<Dialect> {
 protected:
  std::string GoldenText(const char* stem) const { return ReadFile(GoldenPath(GoldenFileName(stem, GetParam()))); }
};

TEST_P(BridgeReplyGolden, EncodesTheAuthenticatedReply) {
  EXPECT_TRUE(JsonEqual(GoldenText("reply_authenticated"), EncodeAuthenticatedReply(kDevice, kAccount, GetParam())));
}

TEST_P(BridgeReplyGolden, EncodesTheErrorReplyWithTheOffendingCid) {
  EXPECT_TRUE(JsonEqual(GoldenText("reply_error"), EncodeErrorReply("[1].type: missing", "c-42", GetParam())));
}

INSTANTIATE_TEST_SUITE_P(BridgeReplyCodec, BridgeReplyGolden, ::testing::Values(Dialect::kStandard, Dialect::kCompact),
                         [](const ::testing::TestParamInfo<Dialect>& info) { return DialectName(info.param); });

TEST(BridgeReplyCodec, OmitsCidWhenTheMessageCarriedNone) {
  EXPECT_EQ(EncodeErrorReply("invalid JSON at byte 0: The document is empty.", "", Dialect::kStandard),
            R"({"service":"hive-backend","type":"error","error":"invalid JSON at byte 0: The document is empty."})");
}

TEST(BridgeReplyCodec, EscapesTheErrorText) {
  const std::string json =
      EncodeErrorReply("type: expected non-empty string, got string \"\"\n", "c\"1", Dialect::kStandard);
  EXPECT_TRUE(JsonEqual(
      R"({"service":"hive-backend","type":"error","error":"type: expected non-empty string, got string \"\"\n","cid":"c\"1"})",
      json));
}

}  // namespace
}  // namespace hive::codec

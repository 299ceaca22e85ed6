#include <string>

#include "gmock/gmock.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/slice.h"
#include "gtest/gtest.h"
#include "hive/bridge/v1/device_bridge.pb.h"
#include "server/subscribe_events_call.h"

namespace hive::server {
namespace {

using hive::bridge::v1::SubscribeEventsRequest;
using ::testing::HasSubstr;

grpc::ByteBuffer Bytes(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// SubscribeEvents is registered raw, so the bridge parses its request itself.
TEST(SubscribeEventsRequestBytes, ParseIntoTheRequestAndLeaveTheBufferWhole) {
  SubscribeEventsRequest request;
  request.add_types("device-state");
  request.add_device_ids("0d5f4c52-0c8f-4c55-9d6c-3d7d8d6b4a11");
  request.mutable_resume_after()->set_epoch("epoch-a");
  request.mutable_resume_after()->set_sequence(9);
  const grpc::ByteBuffer bytes = Bytes(request.SerializeAsString());
  absl::StatusOr<SubscribeEventsRequest> parsed = ParseSubscribeEventsRequest(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->SerializeAsString(), request.SerializeAsString());
  EXPECT_EQ(bytes.Length(), request.ByteSizeLong());  // gRPC still owns it
}

TEST(SubscribeEventsRequestBytes, AnEmptyRequestIsTheDefaultOne) {
  absl::StatusOr<SubscribeEventsRequest> parsed = ParseSubscribeEventsRequest(Bytes(""));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->ByteSizeLong(), 0u);
}

TEST(SubscribeEventsRequestBytes, BytesThatAreNoRequestAreInvalidArgumentSayingSo) {
  // Field 1 (account_ids, a string) announcing 100 bytes and holding 2.
  absl::StatusOr<SubscribeEventsRequest> parsed = ParseSubscribeEventsRequest(Bytes(std::string("\x0a\x64xy", 4)));
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("not a hive.bridge.v1.SubscribeEventsRequest"));
}

}  // namespace
}  // namespace hive::server

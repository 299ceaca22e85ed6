// What one backend connection may hold of the gRPC server: the flags that
// bound it (--grpc-max-concurrent-streams and the keepalive and memory
// flags) reach gRPC, and the stream limit bites per connection.
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_metrics.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/wait_until.h"

namespace hive::integration {
namespace {

class GrpcLimitsTest : public BridgeTest {};

TEST_F(GrpcLimitsTest, AConnectionAtItsStreamLimitStartsNoFurtherCallUntilAStreamEnds) {
  StartOwnBridge({"--grpc-max-concurrent-streams=2", "--grpc-memory-limit=64MiB", "--grpc-keepalive-time=30s",
                  "--grpc-keepalive-timeout=5s", "--grpc-min-ping-interval=10s", "--grpc-max-ping-strikes=3"});
  TestDevice& device = Connect();
  // One connection of its own, so that only these calls share it.
  std::unique_ptr<Stub> limited = bridge().NewStub(grpc::ChannelArguments());
  SubscribeEventsRequest from_start;
  from_start.mutable_resume_after()->set_epoch(bridge().epoch());
  from_start.mutable_resume_after()->set_sequence(0);
  auto first = std::make_unique<EventStream>(*limited, from_start);
  auto second = std::make_unique<EventStream>(*limited, from_start);
  // Each stream has its first event (the device's connect), so both are
  // open at the bridge, and the client has read the bridge's HTTP/2
  // settings, which come before any stream's data.
  ASSERT_TRUE(first->Next(kHangBound).has_value()) << Log();
  ASSERT_TRUE(second->Next(kHangBound).has_value()) << Log();

  // A third call on the connection waits for a stream until its deadline
  // ends it; a short unary call would otherwise be answered at once.
  hive::bridge::v1::GetDeviceRequest get;
  get.set_device_id(device.device_id());
  hive::bridge::v1::GetDeviceResponse got;
  grpc::ClientContext blocked;
  SetDeadline(blocked, absl::Seconds(1));
  EXPECT_EQ(limited->GetDevice(&blocked, get, &got).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << Log();
  // Another connection is not held back by this one's streams.
  EXPECT_TRUE(GetDevice(stub(), device.device_id()).ok()) << Log();

  // Once a stream ends, the connection takes calls again.
  first.reset();
  grpc::ClientContext freed;
  SetDeadline(freed, kHangBound);
  EXPECT_TRUE(limited->GetDevice(&freed, get, &got).ok()) << Log();
  EXPECT_EQ(got.device().device_id(), device.device_id());
}

}  // namespace
}  // namespace hive::integration

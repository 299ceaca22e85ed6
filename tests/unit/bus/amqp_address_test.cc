#include "bridge/bus/amqp_connection.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hive {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(AmqpAddress, ParsesEveryPartWithTheVhostUnescaped) {
  absl::StatusOr<AmqpAddress> address = ParseAmqpUrl("amqp://hive:s3cret@rabbitmq.iot.svc:5673/%2f");
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_EQ(address->host, "rabbitmq.iot.svc");
  EXPECT_EQ(address->port, 5673);
  EXPECT_EQ(address->user, "hive");
  EXPECT_EQ(address->password, "s3cret");
  EXPECT_EQ(address->vhost, "/");
  EXPECT_FALSE(address->tls);
}

TEST(AmqpAddress, AmqpsDefaultsToTlsOnItsPort) {
  absl::StatusOr<AmqpAddress> address = ParseAmqpUrl("amqps://hive:pw@broker/fleet");
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_TRUE(address->tls);
  EXPECT_EQ(address->port, 5671);
  EXPECT_EQ(address->vhost, "fleet");
}

TEST(AmqpAddress, RedactedFormForLogsLeavesThePasswordOut) {
  absl::StatusOr<AmqpAddress> address = ParseAmqpUrl("amqp://hive:s3cret@broker:5672/fleet");
  ASSERT_TRUE(address.ok());
  EXPECT_EQ(address->Redacted(), "amqp://hive@broker:5672/fleet");
}

TEST(AmqpAddress, InvalidUrlIsRefusedWithoutEchoingIt) {
  absl::StatusOr<AmqpAddress> address = ParseAmqpUrl("amqp://hive:s3cret@broker:notaport/fleet");
  ASSERT_FALSE(address.ok());
  EXPECT_EQ(address.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(address.status().message()), HasSubstr("--bus"));
  EXPECT_THAT(std::string(address.status().message()), Not(HasSubstr("s3cret")));
}

}  // namespace
}  // namespace hive

#include "bridge/bus/stream_queue.h"

#include <string>

#include "bridge/status_macros.h"

namespace hive {
namespace {

constexpr uint16_t kStreamPrefetch = 1000;
// Stream retention: enough for resuming, bounded so the broker's disk is not.
constexpr int64_t kStreamMaxBytes = int64_t{1} << 30;

}  // namespace

absl::Status DeclareStream(AmqpConnection& amqp, amqp_channel_t channel, absl::string_view name) {
  AmqpConnection::QueueOptions stream;
  stream.durable = true;
  stream.arguments = {{"x-queue-type", std::string("stream")}, {"x-max-length-bytes", kStreamMaxBytes}};
  return amqp.DeclareQueue(channel, name, stream);
}

absl::Status ConsumeStream(AmqpConnection& amqp, amqp_channel_t channel, absl::string_view stream,
                           absl::string_view consumer, const AmqpValue& start) {
  HIVE_RETURN_IF_ERROR(amqp.SetPrefetch(channel, kStreamPrefetch));
  return amqp.Consume(channel, stream, consumer, /*auto_ack=*/false, {{"x-stream-offset", start}});
}

AmqpValue StreamStartAfter(const std::optional<uint64_t>& last) {
  return last.has_value() ? AmqpValue(static_cast<int64_t>(*last + 1)) : AmqpValue(std::string("first"));
}

}  // namespace hive

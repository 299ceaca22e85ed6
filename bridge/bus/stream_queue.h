// bridge/bus/stream_queue.h
// The fleet's RabbitMQ streams (hive.events.stream, hive.queue.stream,
// hive.jobs.stream) are declared and read alike: durable, bounded in bytes
// (enough for resuming, so that the broker's disk is not), and read on a
// channel of their own with a prefetch, from an offset: a number (a
// reconnect resumes after the last one read), "first" or "next".
//
//   HIVE_RETURN_IF_ERROR(DeclareStream(amqp, channel, cluster::kJobStream));
//   HIVE_RETURN_IF_ERROR(ConsumeStream(amqp, channel, cluster::kJobStream, "jobs", StreamStart(last)));
#pragma once

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "bridge/bus/amqp_connection.h"

namespace hive {

absl::Status DeclareStream(AmqpConnection& amqp, amqp_channel_t channel, absl::string_view name);

// Sets the channel's prefetch and consumes `stream` from `start` (an offset,
// or "first" / "next"), acknowledged by the reader.
absl::Status ConsumeStream(AmqpConnection& amqp, amqp_channel_t channel, absl::string_view stream,
                           absl::string_view consumer, const AmqpValue& start);

// After `last` when one was read, else from the stream's first message.
AmqpValue StreamStartAfter(const std::optional<uint64_t>& last);

}  // namespace hive

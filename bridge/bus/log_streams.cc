#include "bridge/bus/log_streams.h"

#include <utility>

#include "bridge/bus/cluster_messages.h"
#include "bridge/bus/job_op_message.h"
#include "bridge/bus/stream_queue.h"
#include "bridge/log.h"
#include "bridge/status_macros.h"
#include "bridge/uuid.h"

namespace hive {
namespace {

// Each log on a channel of its own (its prefetch, and a broker error on one
// closes only it); appends go out on the log's channel.
constexpr amqp_channel_t kQueueChannel = 5;
constexpr amqp_channel_t kJobChannel = 6;

absl::string_view StreamOf(ClusterMessageKind kind) {
  return kind == ClusterMessageKind::kJobOp ? cluster::kJobStream : cluster::kQueueStream;
}

}  // namespace

LogStreams::LogStreams(std::string replica_id, const Clock& clock, ClusterSignatures& signatures,
                       std::shared_ptr<Wakeup> wakeup)
    : replica_id_(std::move(replica_id)), clock_(clock), signatures_(signatures), queue_(std::move(wakeup)) {}

void LogStreams::AppendQueueOp(const QueueOp& op) {
  queue_.Push({ClusterMessageKind::kQueueOp, cluster::EncodeQueueOp(op)});
}

void LogStreams::AppendJobOp(const JobOp& op) { queue_.Push({ClusterMessageKind::kJobOp, cluster::EncodeJobOp(op)}); }

std::vector<amqp_channel_t> LogStreams::channels() const { return {kQueueChannel, kJobChannel}; }

absl::Status LogStreams::SetUp(AmqpConnection& amqp) {
  queue_log_.tag_to_ack = 0;
  job_log_.tag_to_ack = 0;
  if (queue_reader_ != nullptr) {
    // A queued request lives at most --max-queue-ttl; the log holds its
    // operations as long as the broker keeps them
    // (docs/architecture.md#queued-requests-in-a-cluster).
    HIVE_RETURN_IF_ERROR(DeclareStream(amqp, kQueueChannel, cluster::kQueueStream));
    HIVE_RETURN_IF_ERROR(
        ConsumeStream(amqp, kQueueChannel, cluster::kQueueStream, "queue", StreamStartAfter(queue_log_.last_offset)));
    // Read back, it says the view has caught up with what came before.
    QueueOp marker;
    marker.kind = QueueOp::Kind::kMarker;
    marker.id = NewUuid();
    marker.replica = replica_id_;
    marker.at = clock_.Now();
    HIVE_RETURN_IF_ERROR(Publish(amqp, {ClusterMessageKind::kQueueOp, cluster::EncodeQueueOp(marker)}));
  }
  if (job_reader_ != nullptr) {
    HIVE_RETURN_IF_ERROR(DeclareStream(amqp, kJobChannel, cluster::kJobStream));
    HIVE_RETURN_IF_ERROR(
        ConsumeStream(amqp, kJobChannel, cluster::kJobStream, "jobs", StreamStartAfter(job_log_.last_offset)));
  }
  return absl::OkStatus();
}

absl::Status LogStreams::Publish(AmqpConnection& amqp, Append append) {
  const absl::string_view stream = StreamOf(append.kind);
  signatures_.Sign(append.kind, "", stream, append.message);
  return amqp.Publish(append.kind == ClusterMessageKind::kJobOp ? kJobChannel : kQueueChannel, "", stream,
                      /*mandatory=*/false, append.message);
}

absl::Status LogStreams::Flush(AmqpConnection& amqp, absl::Time /*now*/, bool& more) {
  std::deque<Append> batch = queue_.TakeAll();
  if (!batch.empty()) more = true;
  for (Append& append : batch) HIVE_RETURN_IF_ERROR(Publish(amqp, std::move(append)));
  return absl::OkStatus();
}

std::optional<uint64_t> LogStreams::Advance(Reader& reader, const AmqpDelivery& delivery) {
  reader.tag_to_ack = delivery.delivery_tag;
  absl::StatusOr<uint64_t> offset = cluster::StreamOffsetOf(delivery.message);
  if (!offset.ok()) return std::nullopt;
  if (reader.last_offset.has_value() && *offset <= *reader.last_offset) return std::nullopt;
  reader.last_offset = *offset;
  return *offset;
}

absl::Status LogStreams::OnDelivery(AmqpDelivery delivery) {
  const bool jobs = delivery.channel == kJobChannel;
  const ClusterMessageKind kind = jobs ? ClusterMessageKind::kJobOp : ClusterMessageKind::kQueueOp;
  // A refused message is never acted on, but a reconnect resumes after it.
  const bool authentic = signatures_.Authentic(kind, delivery.exchange, delivery.routing_key, delivery.message);
  const std::optional<uint64_t> offset = Advance(jobs ? job_log_ : queue_log_, delivery);
  if (!authentic || !offset.has_value()) return absl::OkStatus();
  // An operation that is not one (anyone who may publish on the virtual host
  // can append) is logged and passed over.
  auto apply = [&](auto op, absl::string_view undecodable, auto&& into) {
    if (!op.ok()) {
      Log(LogLevel::kWarn, undecodable, {{"offset", *offset}, {"error", op.status().message()}});
      return;
    }
    into(*op);
  };
  if (jobs) {
    apply(cluster::DecodeJobOp(delivery.message), "job_op_undecodable",
          [this](const JobOp& op) { job_reader_->ApplyJobOp(op); });
  } else {
    apply(cluster::DecodeQueueOp(delivery.message), "queue_op_undecodable",
          [this](const QueueOp& op) { queue_reader_->Apply(op); });
  }
  return absl::OkStatus();
}

absl::Status LogStreams::AfterRead(AmqpConnection& amqp) {
  if (queue_log_.tag_to_ack != 0) {
    HIVE_RETURN_IF_ERROR(amqp.Ack(kQueueChannel, std::exchange(queue_log_.tag_to_ack, 0), /*multiple=*/true));
  }
  if (job_log_.tag_to_ack != 0) {
    HIVE_RETURN_IF_ERROR(amqp.Ack(kJobChannel, std::exchange(job_log_.tag_to_ack, 0), /*multiple=*/true));
  }
  return absl::OkStatus();
}

}  // namespace hive

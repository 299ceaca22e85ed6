// bridge/bus/log_streams.h
// The fleet's two logs on the data connection, one part because they work
// alike: the queued requests' log hive.queue.stream (bridge/queue/queue_op.h)
// and the jobs' log hive.jobs.stream (bridge/jobs/job_op.h,
// job_op_message.h). Appends are published to the stream through the
// default exchange; every replica reads each log from its first offset into
// its view (a reconnect resumes after the last operation read). After
// subscribing to the queue's log a replica appends a marker, so that reading
// its own marker back tells it its view has caught up.
//
// Append*: any thread (queued for the driver). The rest: the driver's thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bridge/bus/amqp_part.h"
#include "bridge/bus/cluster_signatures.h"
#include "bridge/bus/work_queue.h"
#include "bridge/clock.h"
#include "bridge/jobs/job_op.h"
#include "bridge/queue/queue_op.h"

namespace hive {

class LogStreams final : public AmqpPart {
 public:
  LogStreams(std::string replica_id, const Clock& clock, ClusterSignatures& signatures, std::shared_ptr<Wakeup> wakeup);

  // Before the driver starts: the views the logs are read into (null: that
  // log is neither read nor declared).
  void FeedQueue(QueueLogReader* reader) { queue_reader_ = reader; }
  void FeedJobs(JobLogReader* reader) { job_reader_ = reader; }

  void AppendQueueOp(const QueueOp& op);
  void AppendJobOp(const JobOp& op);
  // Refuses appends from now on (the bus stopped).
  void Close() { queue_.Close(); }

  // AmqpPart.
  std::vector<amqp_channel_t> channels() const override;
  absl::Status SetUp(AmqpConnection& amqp) override;
  absl::Status Flush(AmqpConnection& amqp, absl::Time now, bool& more) override;
  absl::Status OnDelivery(AmqpDelivery delivery) override;
  absl::Status AfterRead(AmqpConnection& amqp) override;

 private:
  // An operation on its way to its log.
  struct Append {
    ClusterMessageKind kind{};
    AmqpMessage message;
  };
  // One log's reading position.
  struct Reader {
    std::optional<uint64_t> last_offset;
    uint64_t tag_to_ack = 0;
  };

  absl::Status Publish(AmqpConnection& amqp, Append append);
  // The offset of a delivery on `reader`'s log when it is new (and moves the
  // log past it), nullopt when it was read already or has none.
  std::optional<uint64_t> Advance(Reader& reader, const AmqpDelivery& delivery);

  const std::string replica_id_;
  const Clock& clock_;
  ClusterSignatures& signatures_;
  QueueLogReader* queue_reader_ = nullptr;
  JobLogReader* job_reader_ = nullptr;
  WorkQueue<Append> queue_;
  // The driver's thread.
  Reader queue_log_;
  Reader job_log_;
};

}  // namespace hive

#include "server/queue_job_sender.h"

#include "bridge/queue/stable_digest.h"

namespace hive::server {

absl::StatusOr<JobSender::Sent> QueueJobSender::Send(const hive::bridge::v1::SendDeviceRequestRequest& request,
                                                     absl::Duration ttl) {
  // Asked before queueing: a device that connects meanwhile is counted as
  // waiting, and comes into flight with its SENT outcome.
  const bool connected = registry_.Find(request.device_id()) != nullptr;
  absl::StatusOr<RequestQueue::Enqueued> queued =
      queue_.Enqueue(request, StableDigestOf(request.device_id(), request), ttl);
  if (!queued.ok()) return queued.status();
  // Delivered at once when the device is connected; published as QUEUED
  // first either way.
  if (queued->inserted) deliverer_.Queued(queued->record);
  return Sent{queued->record, connected};
}

absl::StatusOr<hive::bridge::v1::RequestRecord> QueueJobSender::Cancel(const std::string& request_id) {
  absl::StatusOr<RequestQueue::Cancelled> cancelled = queue_.Cancel(request_id);
  if (!cancelled.ok()) return cancelled.status();
  if (cancelled->changed) deliverer_.Publish(cancelled->record);
  return cancelled->record;
}

absl::StatusOr<std::optional<hive::bridge::v1::RequestRecord>> QueueJobSender::Get(const std::string& request_id) {
  absl::StatusOr<std::optional<RequestQueue::Stored>> stored = queue_.Get(request_id);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return std::optional<hive::bridge::v1::RequestRecord>();
  return std::optional<hive::bridge::v1::RequestRecord>((*stored)->record);
}

}  // namespace hive::server

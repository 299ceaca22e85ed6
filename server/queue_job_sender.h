// server/queue_job_sender.h
// The JobSender of the bridge: a job's requests go through the queue of
// queued requests exactly as SendDeviceRequest with queue_ttl puts them
// there (stored durably, delivered by the QueueDeliverer when the device is
// connected here or, in cluster mode, on the replica holding it), so they
// get its at-most-once delivery, its limits and its request-outcome events.
//
//   QueueJobSender sender(*queue, *deliverer);
//   JobEngine engine(store, sender, hub, clock, options);
#pragma once

#include "bridge/jobs/job_sender.h"
#include "bridge/queue/queue_deliverer.h"
#include "bridge/queue/request_queue.h"
#include "bridge/session_registry.h"

namespace hive::server {

class QueueJobSender final : public JobSender {
 public:
  QueueJobSender(RequestQueue& queue, QueueDeliverer& deliverer, const SessionRegistry& registry)
      : queue_(queue), deliverer_(deliverer), registry_(registry) {}

  absl::StatusOr<Sent> Send(const hive::bridge::v1::SendDeviceRequestRequest& request, absl::Duration ttl) override;
  absl::StatusOr<hive::bridge::v1::RequestRecord> Cancel(const std::string& request_id) override;
  absl::StatusOr<std::optional<hive::bridge::v1::RequestRecord>> Get(const std::string& request_id) override;

 private:
  RequestQueue& queue_;
  QueueDeliverer& deliverer_;
  const SessionRegistry& registry_;
};

}  // namespace hive::server

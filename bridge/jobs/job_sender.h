// bridge/jobs/job_sender.h
// How a job reaches its devices: through the queue of queued requests
// (docs/jobs.md), under the job's derived request ids, so that sending the
// same device again (a resumed job, a replica taking over) answers the
// request that exists and sends nothing. The bridge implements it over its
// RequestQueue and QueueDeliverer (server/); tests with a fake.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive {

class JobSender {
 public:
  virtual ~JobSender() = default;

  struct Sent {
    // As it stands: QUEUED, or further along when it was queued before.
    hive::bridge::v1::RequestRecord record;
    // The device is connected: the request is on its way to it rather than
    // waiting for it (it counts as in flight from now).
    bool delivering = false;
  };

  // Queues `request` (canonical ids, its request id set) for `ttl` and
  // delivers it at once if its device is connected.
  virtual absl::StatusOr<Sent> Send(const hive::bridge::v1::SendDeviceRequestRequest& request, absl::Duration ttl) = 0;
  // Cancels a request still QUEUED; its record (FAILED_PRECONDITION once
  // handed to the device or expired).
  virtual absl::StatusOr<hive::bridge::v1::RequestRecord> Cancel(const std::string& request_id) = 0;
  // A request's record as it stands; nullopt when it was never queued.
  virtual absl::StatusOr<std::optional<hive::bridge::v1::RequestRecord>> Get(const std::string& request_id) = 0;
};

}  // namespace hive

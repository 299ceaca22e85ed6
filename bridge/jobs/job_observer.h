// bridge/jobs/job_observer.h
// What the job engine tells /metrics (server/job_metrics.h): how many jobs
// are at work, each job that ends, each device outcome. Called on the
// engine's thread; implementations must be quick and must not call back.
#pragma once

#include <cstddef>

#include "hive/bridge/v1/jobs.pb.h"

namespace hive {

class JobObserver {
 public:
  virtual ~JobObserver() = default;

  // After each round of the engine: jobs sending, paused between waves,
  // and stopping (aborted or cancelled, their requests in flight finishing).
  virtual void Active(size_t running, size_t paused, size_t stopping) = 0;
  // A job ended COMPLETED, ABORTED or CANCELLED.
  virtual void Ended(hive::bridge::v1::JobState state) = 0;
  // A device of a job reached its outcome: its request's status.
  virtual void DeviceSettled(hive::bridge::v1::RequestStatus status) = 0;
};

}  // namespace hive

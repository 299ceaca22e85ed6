// server/job_spec.h
// StartJob's checks of what a job is to do (its target is checked as it is
// selected, job_selection.h): ids, the command (as SendDeviceRequest checks
// it), the wait mode, queue_ttl, the rollout and the description, each
// refusal INVALID_ARGUMENT naming the field.
#pragma once

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "hive/bridge/v1/jobs.pb.h"

namespace hive::server {

// The longest description StartJob keeps.
inline constexpr size_t kMaxJobDescriptionBytes = 256;

absl::Status ValidateStartJob(const hive::bridge::v1::StartJobRequest& request, absl::Duration max_queue_ttl);

}  // namespace hive::server

#include "server/job_spec.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "bridge/codec/device_request.h"
#include "bridge/proto_time.h"
#include "bridge/uuid.h"

namespace hive::server {
namespace {

absl::Status ValidateRollout(const hive::bridge::v1::JobRollout& rollout) {
  if (!std::isfinite(rollout.max_rate()) || rollout.max_rate() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout.max_rate: ", rollout.max_rate(), " devices per second; it must be above 0"));
  }
  if (rollout.max_in_flight() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("rollout.max_in_flight: ", rollout.max_in_flight(), " < 0"));
  }
  if (rollout.has_abort()) {
    const hive::bridge::v1::JobAbortRule& abort = rollout.abort();
    if (abort.window() < 0) {
      return absl::InvalidArgumentError(absl::StrCat("rollout.abort.window: ", abort.window(), " < 0"));
    }
    if (!(abort.max_failure_ratio() > 0 && abort.max_failure_ratio() < 1)) {
      return absl::InvalidArgumentError(absl::StrCat("rollout.abort.max_failure_ratio: ", abort.max_failure_ratio(),
                                                     "; it must be between 0 and 1, exclusive"));
    }
  }
  // The waves are checked by the plan made from them (WavePlan::Make).
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateStartJob(const hive::bridge::v1::StartJobRequest& request, absl::Duration max_queue_ttl) {
  if (!request.job_id().empty() && !IsUuid(request.job_id())) {
    return absl::InvalidArgumentError(absl::StrCat("job_id: \"", request.job_id(), "\" is not a UUID"));
  }
  if (absl::StatusOr<std::string> command = codec::WireCommandOf(request.command()); !command.ok()) {
    return command.status();
  }
  if (!hive::bridge::v1::WaitMode_IsValid(request.wait())) {
    return absl::InvalidArgumentError(absl::StrCat("wait: unknown mode ", request.wait()));
  }
  const absl::Duration ttl = DurationOf(request.queue_ttl());
  if (ttl < absl::Seconds(1) || ttl > max_queue_ttl) {
    return absl::InvalidArgumentError(absl::StrCat("queue_ttl: ", absl::FormatDuration(ttl),
                                                   "; it must be at least 1s and at most --max-queue-ttl (",
                                                   absl::FormatDuration(max_queue_ttl), ")"));
  }
  if (request.description().size() > kMaxJobDescriptionBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("description: ", request.description().size(), " bytes, over ", kMaxJobDescriptionBytes));
  }
  if (request.rollout().include_joining() && !request.target().has_selector()) {
    return absl::InvalidArgumentError(
        "rollout.include_joining: needs target.selector; a job over a device list takes no newcomers");
  }
  return ValidateRollout(request.rollout());
}

}  // namespace hive::server

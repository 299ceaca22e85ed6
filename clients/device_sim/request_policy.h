// clients/device_sim/request_policy.h
// How a simulated device answers the bridge's device-requests
// (--on-request). Every answer but `never` starts with an ack sent at once:
//
//   ack            the ack only; a backend waiting for the result times out
//   ack-result     then {"status":"ok","result":{"command":C,"handled_by":"hive-device-sim"}}
//   ack-fail       then {"status":"error","error":"..."}
//   ack-delay:MS   then the ok result, MS milliseconds after the ack
//   never          nothing at all; a backend waiting for the ack times out
//
//   absl::StatusOr<RequestPolicy> policy = ParseRequestPolicy("ack-delay:250");
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace hive::sim {

struct RequestPolicy {
  enum class Answer { kAckOnly, kAckThenResult, kAckThenError, kNothing };

  Answer answer = Answer::kAckThenResult;
  // Between the ack and the result; only with kAckThenResult.
  absl::Duration result_delay = absl::ZeroDuration();
};

// Reads the --on-request spelling; INVALID_ARGUMENT lists the valid ones.
absl::StatusOr<RequestPolicy> ParseRequestPolicy(absl::string_view text);

// The --on-request spelling of `policy` (ParseRequestPolicy's inverse).
std::string FormatRequestPolicy(const RequestPolicy& policy);

}  // namespace hive::sim

// bridge/jobs/job_request_id.h
// The request id a job sends a device its command under: the same for the
// same job and device, every time and on every replica, so that a job
// resumed after a crash or taken over by another replica enqueues the same
// request again and the queue answers with the record that exists instead
// of sending twice (docs/jobs.md).
//
//   std::string id = JobRequestId(job_id, device_id);  // "8c1d…-…-8…-…"
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace hive {

// A version 8 UUID (RFC 9562 §5.8) in lowercase canonical form, from the
// first 16 bytes of SHA-256 over a fixed prefix, the canonical job id and
// the canonical device id (each ended by a NUL, so no two pairs share an
// input).
std::string JobRequestId(absl::string_view job_id, absl::string_view device_id);

}  // namespace hive

// bridge/proto_time.h
// Protobuf's well-known time types as Abseil's, for the code that reads a
// duration a caller sent (queue_ttl, connect_timeout, a wave's pause_after):
//
//   const absl::Duration ttl = DurationOf(request.queue_ttl());
//
// Field by field, with no range check: a caller's out-of-range value stays as
// large (or as negative) as it was sent, for the validation that reads it to
// name. Unset is zero.
#pragma once

#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"

namespace hive {

inline absl::Duration DurationOf(const google::protobuf::Duration& duration) {
  return absl::Seconds(duration.seconds()) + absl::Nanoseconds(duration.nanos());
}

}  // namespace hive

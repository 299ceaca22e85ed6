// server/request_records.h
// GetRequest and CancelRequest: where a request stands, from the request
// queue's records (queued requests) or else from what the correlator still
// remembers of a request that was sent at once. A caller restricted by
// backend authorisation gets NOT_FOUND for requests of accounts outside its
// grant, as for unknown ones, so it cannot probe other accounts' requests.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bridge/auth/backend_policy.h"
#include "bridge/queue/queue_deliverer.h"
#include "bridge/queue/request_queue.h"
#include "bridge/request_correlator.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive::server {

struct RequestRecordsDeps {
  RequestCorrelator& correlator;
  // Both null without --state-dir.
  RequestQueue* queue = nullptr;
  QueueDeliverer* deliverer = nullptr;
};

// The request's record; INVALID_ARGUMENT for an id that is not a UUID,
// NOT_FOUND when unknown (never sent, or forgotten) or hidden by the grant.
absl::StatusOr<hive::bridge::v1::RequestRecord> LookUpRequest(const RequestRecordsDeps& deps,
                                                              const std::string& request_id,
                                                              const std::optional<BackendGrant>& grant);

// Cancels a QUEUED request (published as a request-outcome event) and
// answers its record; a CANCELLED one is answered unchanged.
// FAILED_PRECONDITION once it was handed to the device, expired, or was never
// queued; NOT_FOUND as LookUpRequest. `trace_id` is the call's, for its log
// line.
absl::StatusOr<hive::bridge::v1::RequestRecord> CancelQueuedRequest(const RequestRecordsDeps& deps,
                                                                    const std::string& request_id,
                                                                    const std::optional<BackendGrant>& grant,
                                                                    absl::string_view trace_id);

}  // namespace hive::server

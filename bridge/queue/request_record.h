// bridge/queue/request_record.h
// Conversions between the ways a request's standing is told: the queue's
// RequestRecord, the correlator's memory of a request that was not queued
// (GetRequest answers both as a RequestRecord), and the
// SendDeviceRequestResponse a retry of a queued request is answered with.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "bridge/request_correlator.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive {

// What SendDeviceRequest answers for a queued request as it stands: its
// status, times, result and error (and expires_at while QUEUED), or ABORTED
// when it is UNCONFIRMED (as for a request whose connection closed before
// the device answered).
absl::StatusOr<hive::bridge::v1::SendDeviceRequestResponse> ResponseOf(const hive::bridge::v1::RequestRecord& record);

// A request the correlator remembers, as GetRequest answers it: written and
// unanswered on a closed connection is UNCONFIRMED; accepted but not yet
// written counts as SENT (handed to the connection).
hive::bridge::v1::RequestRecord RecordOf(const std::string& request_id, const RequestCorrelator::Known& known);

}  // namespace hive

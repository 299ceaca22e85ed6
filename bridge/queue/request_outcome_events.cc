#include "bridge/queue/request_outcome_events.h"

#include <utility>

#include "bridge/codec/device_event.h"
#include "google/protobuf/util/time_util.h"

namespace hive {

using hive::bridge::v1::RequestStatus;

RequestStatus StatusOf(const RequestCorrelator::OutcomeChange& change) {
  const RequestStatus status = change.outcome.status();
  if (status == hive::bridge::v1::REQUEST_STATUS_UNSPECIFIED) return hive::bridge::v1::REQUEST_STATUS_SENT;
  if (change.unconfirmed && status == hive::bridge::v1::REQUEST_STATUS_SENT) {
    return hive::bridge::v1::REQUEST_STATUS_UNCONFIRMED;
  }
  return status;
}

void RequestOutcomeEvents::OnOutcome(RequestCorrelator::OutcomeChange change) {
  if (change.watch == RequestCorrelator::Watch::kQueued) {
    if (forward_) forward_(std::move(change));
    return;
  }
  std::string error = change.outcome.error();
  if (change.unconfirmed && error.empty()) {
    error = "the device's connection closed (" + change.closed_how + ") before the device answered";
  }
  Publish(change.request_id, change.device_id, change.account_id, StatusOf(change), error,
          change.outcome.has_result() ? &change.outcome.result() : nullptr);
}

void RequestOutcomeEvents::Publish(const hive::bridge::v1::RequestRecord& record) {
  Publish(record.request_id(), record.device_id(), record.account_id(), record.status(), record.error(),
          record.has_result() ? &record.result() : nullptr);
}

void RequestOutcomeEvents::Publish(const std::string& request_id, const std::string& device_id,
                                   const std::string& account_id, RequestStatus status, const std::string& error,
                                   const google::protobuf::Struct* result) {
  hive::bridge::v1::DeviceEvent event;
  event.set_device_id(device_id);
  event.set_account_id(account_id);
  event.set_service(std::string(codec::kBackendService));
  event.set_type("request-outcome");
  *event.mutable_received_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock_.Now()));
  hive::bridge::v1::RequestOutcome& outcome = *event.mutable_request_outcome();
  outcome.set_request_id(request_id);
  outcome.set_status(status);
  outcome.set_error(error);
  if (result != nullptr) *outcome.mutable_result() = *result;
  sink_.Publish(std::move(event));
}

}  // namespace hive

#include "bridge/queue/request_record.h"

#include "absl/strings/str_cat.h"

namespace hive {

using hive::bridge::v1::RequestRecord;
using hive::bridge::v1::SendDeviceRequestResponse;

absl::StatusOr<SendDeviceRequestResponse> ResponseOf(const RequestRecord& record) {
  if (record.status() == hive::bridge::v1::REQUEST_STATUS_UNCONFIRMED) {
    return absl::AbortedError(absl::StrCat("request ", record.request_id(), ": ", record.error()));
  }
  SendDeviceRequestResponse response;
  response.set_request_id(record.request_id());
  response.set_status(record.status());
  if (record.has_sent_at()) *response.mutable_sent_at() = record.sent_at();
  if (record.has_ack_latency()) *response.mutable_ack_latency() = record.ack_latency();
  if (record.has_result_latency()) *response.mutable_result_latency() = record.result_latency();
  if (record.has_result()) *response.mutable_result() = record.result();
  *response.mutable_result_exact_numbers() = record.result_exact_numbers();
  response.set_error(record.error());
  if (record.status() == hive::bridge::v1::REQUEST_STATUS_QUEUED) *response.mutable_expires_at() = record.expires_at();
  return response;
}

RequestRecord RecordOf(const std::string& request_id, const RequestCorrelator::Known& known) {
  RequestRecord record;
  const SendDeviceRequestResponse& outcome = known.outcome;
  record.set_request_id(request_id);
  record.set_device_id(known.device_id);
  record.set_account_id(known.account_id);
  hive::bridge::v1::RequestStatus status = outcome.status();
  if (status == hive::bridge::v1::REQUEST_STATUS_UNSPECIFIED) status = hive::bridge::v1::REQUEST_STATUS_SENT;
  if (known.unconfirmed && status == hive::bridge::v1::REQUEST_STATUS_SENT) {
    status = hive::bridge::v1::REQUEST_STATUS_UNCONFIRMED;
  }
  record.set_status(status);
  if (outcome.has_sent_at()) *record.mutable_sent_at() = outcome.sent_at();
  if (outcome.has_ack_latency()) *record.mutable_ack_latency() = outcome.ack_latency();
  if (outcome.has_result_latency()) *record.mutable_result_latency() = outcome.result_latency();
  if (outcome.has_result()) *record.mutable_result() = outcome.result();
  *record.mutable_result_exact_numbers() = outcome.result_exact_numbers();
  record.set_error(outcome.error());
  if (known.unconfirmed && record.error().empty()) {
    record.set_error(
        absl::StrCat("the device's connection closed (", known.closed_how, ") before the device answered"));
  }
  return record;
}

}  // namespace hive

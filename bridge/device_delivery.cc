#include "bridge/device_delivery.h"

#include <string>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "bridge/codec/device_request.h"
#include "bridge/deterministic_bytes.h"

namespace hive {

RequestCorrelator::Digest DigestOf(const std::string& device_id,
                                   const hive::bridge::v1::SendDeviceRequestRequest& request) {
  return absl::HashOf(device_id, DeterministicBytes(request.command()), request.has_state(),
                      request.has_state() ? DeterministicBytes(request.state()) : std::string());
}

std::optional<RequestCorrelator::WaiterId> DeliverToDevice(DeviceLink& link, const DeliveredRequest& delivered,
                                                           absl::Time deadline, const DeliveryLimits& limits,
                                                           RequestCorrelator& correlator,
                                                           RequestCorrelator::Done done) {
  const hive::bridge::v1::SendDeviceRequestRequest& request = delivered.request;
  if (!delivered.account_id.empty() && delivered.account_id != link.account_id()) {
    std::move(done)(absl::PermissionDeniedError(
        absl::StrCat("device ", delivered.device_id, " does not belong to account ", delivered.account_id)));
    return std::nullopt;
  }
  absl::StatusOr<std::string> frame =
      codec::EncodeDeviceRequest({delivered.request_id, link.device_id(), link.account_id(), request.command(),
                                  request.has_state() ? &request.state() : nullptr,
                                  limits.trace_to_device ? delivered.traceparent : absl::string_view()},
                                 link.dialect());
  if (!frame.ok()) {
    std::move(done)(frame.status());
    return std::nullopt;
  }
  if (frame->size() > limits.max_frame_bytes) {
    std::move(done)(
        absl::InvalidArgumentError(absl::StrCat("command: the encoded request is ", frame->size(),
                                                " bytes, over the device frame limit of ", limits.max_frame_bytes)));
    return std::nullopt;
  }
  // A caller that left the request id to the bridge cannot retry it.
  const RequestCorrelator::IdSource source =
      request.request_id().empty() ? RequestCorrelator::IdSource::kBridge : RequestCorrelator::IdSource::kCaller;
  RequestCorrelator::Registration registration =
      correlator.Await(delivered.request_id, link.device_id(), DigestOf(link.device_id(), request), request.wait(),
                       deadline, std::move(done), source, {link.account_id(), delivered.watch});
  if (registration.role == RequestCorrelator::Role::kSendNow) {
    // Once queued, the link marks it sent when written, or fails it when its
    // connection closed first.
    if (absl::Status queued = link.SendRequest(*std::move(frame), delivered.request_id, registration.waiter);
        !queued.ok()) {
      correlator.Fail(delivered.request_id, registration.waiter, queued);
    }
  }
  return registration.waiter;
}

}  // namespace hive

#include "bridge/device_delivery.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/codec/device_request.h"

namespace hive {

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
                                  request.has_state() ? &request.state() : nullptr},
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
  RequestCorrelator::Registration registration =
      correlator.Await(delivered.request_id, link.device_id(), request.wait(), deadline, std::move(done));
  if (registration.role == RequestCorrelator::Role::kSendNow) {
    if (absl::Status sent = link.Send(*std::move(frame)); sent.ok()) {
      correlator.MarkSent(delivered.request_id, registration.waiter);
    } else {
      correlator.Fail(delivered.request_id, registration.waiter, sent);
    }
  }
  return registration.waiter;
}

}  // namespace hive

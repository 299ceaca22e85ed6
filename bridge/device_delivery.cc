#include "bridge/device_delivery.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/codec/device_request.h"

namespace hive {

std::optional<RequestCorrelator::WaiterId> DeliverToDevice(DeviceLink& link,
                                                           const hive::bridge::v1::SendDeviceRequestRequest& request,
                                                           absl::Time deadline, const DeliveryLimits& limits,
                                                           RequestCorrelator& correlator, RequestCorrelator::Done done) {
  if (!request.account_id().empty() && request.account_id() != link.account_id()) {
    std::move(done)(absl::PermissionDeniedError(absl::StrCat(
        "device ", request.device_id(), " does not belong to account ", request.account_id())));
    return std::nullopt;
  }
  hive::bridge::v1::DeviceRequest wire;
  wire.set_request_id(request.request_id());
  wire.set_device_id(link.device_id());
  wire.set_account_id(link.account_id());
  *wire.mutable_command() = request.command();
  if (request.has_state()) *wire.mutable_state() = request.state();
  absl::StatusOr<std::string> frame = codec::EncodeDeviceRequest(wire, link.dialect());
  if (!frame.ok()) {
    std::move(done)(frame.status());
    return std::nullopt;
  }
  if (frame->size() > limits.max_frame_bytes) {
    std::move(done)(absl::InvalidArgumentError(absl::StrCat("command: the encoded request is ", frame->size(),
                                                            " bytes, over the device frame limit of ",
                                                            limits.max_frame_bytes)));
    return std::nullopt;
  }
  RequestCorrelator::Registration registration =
      correlator.Await(request.request_id(), link.device_id(), request.wait(), deadline, std::move(done));
  if (registration.role == RequestCorrelator::Role::kSendNow) {
    if (absl::Status sent = link.Send(*std::move(frame)); sent.ok()) {
      correlator.MarkSent(request.request_id(), registration.waiter);
    } else {
      correlator.Fail(request.request_id(), registration.waiter, sent);
    }
  }
  return registration.waiter;
}

}  // namespace hive

#include "tests/integration/support/grpc_calls.h"

#include <utility>

#include "google/protobuf/util/json_util.h"

namespace hive::integration {

using hive::bridge::v1::DeviceCommand;

Command RebootCommand() {
  Command command;
  command.mutable_device_command()->set_action(DeviceCommand::ACTION_REBOOT);
  return command;
}

Command RawCommand(absl::string_view name, absl::string_view payload_json) {
  Command command;
  command.mutable_raw()->set_command(std::string(name));
  if (!google::protobuf::util::JsonStringToMessage(std::string(payload_json), command.mutable_raw()->mutable_payload())
           .ok()) {
    command.mutable_raw()->clear_payload();  // tests pass valid JSON; a typo shows as an empty payload
  }
  return command;
}

SendDeviceRequestRequest RequestTo(absl::string_view device_id, hive::bridge::v1::WaitMode wait, Command command) {
  SendDeviceRequestRequest request;
  request.set_device_id(std::string(device_id));
  request.set_wait(wait);
  *request.mutable_command() = std::move(command);
  return request;
}

void SetDeadline(grpc::ClientContext& context, absl::Duration deadline) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
}

std::ostream& operator<<(std::ostream& out, const CallResult& result) {
  out << "status " << result.status.error_code() << " \"" << result.status.error_message() << "\" after "
      << absl::FormatDuration(result.elapsed);
  if (result.status.ok()) out << ", response {" << result.response.ShortDebugString() << "}";
  return out;
}

CallResult SendRequest(Stub& stub, const SendDeviceRequestRequest& request, absl::Duration deadline) {
  grpc::ClientContext context;
  SetDeadline(context, deadline);
  CallResult result;
  const absl::Time start = absl::Now();
  result.status = stub.SendDeviceRequest(&context, request, &result.response);
  result.elapsed = absl::Now() - start;
  return result;
}

PendingCall::PendingCall(Stub& stub, SendDeviceRequestRequest request, absl::Duration deadline)
    : request_(std::move(request)), started_(absl::Now()) {
  SetDeadline(context_, deadline);
  stub.async()->SendDeviceRequest(&context_, &request_, &response_, [this](grpc::Status status) {
    absl::MutexLock lock(&mu_);
    ++completions_;
    result_.status = std::move(status);
    result_.response = response_;
    result_.elapsed = absl::Now() - started_;
  });
}

PendingCall::~PendingCall() {
  context_.TryCancel();
  absl::MutexLock lock(&mu_);
  auto finished = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return completions_ > 0; };
  mu_.Await(absl::Condition(&finished));
}

std::optional<CallResult> PendingCall::Wait(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto finished = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return completions_ > 0; };
  if (!mu_.AwaitWithTimeout(absl::Condition(&finished), timeout)) return std::nullopt;
  return result_;
}

bool PendingCall::done() const {
  absl::MutexLock lock(&mu_);
  return completions_ > 0;
}

int PendingCall::completions() const {
  absl::MutexLock lock(&mu_);
  return completions_;
}

grpc::Status GetDevice(Stub& stub, absl::string_view device_id, hive::bridge::v1::GetDeviceResponse* response) {
  grpc::ClientContext context;
  SetDeadline(context, kDefaultCallDeadline);
  hive::bridge::v1::GetDeviceRequest request;
  request.set_device_id(std::string(device_id));
  hive::bridge::v1::GetDeviceResponse ignored;
  return stub.GetDevice(&context, request, response != nullptr ? response : &ignored);
}

RecordResult GetRequest(Stub& stub, const std::string& request_id) {
  grpc::ClientContext context;
  SetDeadline(context, kDefaultCallDeadline);
  hive::bridge::v1::GetRequestRequest request;
  request.set_request_id(request_id);
  hive::bridge::v1::GetRequestResponse response;
  RecordResult result;
  result.status = stub.GetRequest(&context, request, &response);
  result.record = response.request();
  return result;
}

RecordResult CancelRequest(Stub& stub, const std::string& request_id) {
  grpc::ClientContext context;
  SetDeadline(context, kDefaultCallDeadline);
  hive::bridge::v1::CancelRequestRequest request;
  request.set_request_id(request_id);
  hive::bridge::v1::CancelRequestResponse response;
  RecordResult result;
  result.status = stub.CancelRequest(&context, request, &response);
  result.record = response.request();
  return result;
}

grpc::Status ListDevices(Stub& stub, hive::bridge::v1::ListDevicesResponse* response) {
  grpc::ClientContext context;
  SetDeadline(context, kDefaultCallDeadline);
  hive::bridge::v1::ListDevicesResponse ignored;
  return stub.ListDevices(&context, hive::bridge::v1::ListDevicesRequest(), response != nullptr ? response : &ignored);
}

grpc::Status SubscribeStatus(Stub& stub, const hive::bridge::v1::SubscribeEventsRequest& request,
                             absl::Duration deadline) {
  grpc::ClientContext context;
  SetDeadline(context, deadline);
  std::unique_ptr<grpc::ClientReader<hive::bridge::v1::SubscribeEventsResponse>> reader =
      stub.SubscribeEvents(&context, request);
  hive::bridge::v1::SubscribeEventsResponse ignored;
  while (reader->Read(&ignored)) {
  }
  return reader->Finish();
}

}  // namespace hive::integration

// tests/integration/support/grpc_calls.h
// Building and making DeviceBridge calls the way a backend does, with a
// deadline on every call:
//
//   CallResult call = SendRequest(stub, RequestTo(device_id), absl::Milliseconds(500));
//   EXPECT_EQ(call.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << call;
//
//   PendingCall pending(stub, RequestTo(device_id), absl::Seconds(5));  // in flight
//   ... make the device answer ...
//   std::optional<CallResult> done = pending.Wait(absl::Seconds(2));
//
// PendingCall uses gRPC's callback API, so a test may keep a thousand calls in
// flight without a thread each.
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "hive/bridge/v1/device_bridge.grpc.pb.h"

namespace hive::integration {

using hive::bridge::v1::Command;
using hive::bridge::v1::SendDeviceRequestRequest;
using hive::bridge::v1::SendDeviceRequestResponse;
using Stub = hive::bridge::v1::DeviceBridge::Stub;

constexpr absl::Duration kDefaultCallDeadline = absl::Seconds(5);

// "DeviceCommand.reboot", no arguments.
Command RebootCommand();
// A RawCommand `name` with a payload object given as JSON.
Command RawCommand(absl::string_view name, absl::string_view payload_json = "{}");

// A request for `device_id` (reboot unless told otherwise).
SendDeviceRequestRequest RequestTo(absl::string_view device_id,
                                   hive::bridge::v1::WaitMode wait = hive::bridge::v1::WAIT_MODE_ACK,
                                   Command command = RebootCommand());

// A context whose deadline is `deadline` from now.
void SetDeadline(grpc::ClientContext& context, absl::Duration deadline);

// What a SendDeviceRequest call came to, and how long it took.
struct CallResult {
  grpc::Status status;
  SendDeviceRequestResponse response;
  absl::Duration elapsed;
};
std::ostream& operator<<(std::ostream& out, const CallResult& result);

// A blocking SendDeviceRequest.
CallResult SendRequest(Stub& stub, const SendDeviceRequestRequest& request,
                       absl::Duration deadline = kDefaultCallDeadline);

// A SendDeviceRequest in flight. The destructor cancels it if it has not
// finished and waits for gRPC to let go of it.
class PendingCall {
 public:
  PendingCall(Stub& stub, SendDeviceRequestRequest request, absl::Duration deadline = kDefaultCallDeadline);
  ~PendingCall();
  PendingCall(const PendingCall&) = delete;
  PendingCall& operator=(const PendingCall&) = delete;

  // The result once the call finished, or nullopt if it still runs after `timeout`.
  std::optional<CallResult> Wait(absl::Duration timeout);
  bool done() const;
  const SendDeviceRequestRequest& request() const { return request_; }
  // How many times gRPC finished this call (must be exactly one).
  int completions() const;
  // Cancels the call from the client's side (ClientContext::TryCancel); it
  // finishes CANCELLED unless it had finished already.
  void Cancel() { context_.TryCancel(); }

 private:
  grpc::ClientContext context_;
  const SendDeviceRequestRequest request_;
  SendDeviceRequestResponse response_;
  const absl::Time started_;
  mutable absl::Mutex mu_;
  int completions_ ABSL_GUARDED_BY(mu_) = 0;
  CallResult result_ ABSL_GUARDED_BY(mu_);
};

// A GetDevice call; fills `response` when given.
grpc::Status GetDevice(Stub& stub, absl::string_view device_id,
                       hive::bridge::v1::GetDeviceResponse* response = nullptr);

// What a GetRequest or CancelRequest call answered.
struct RecordResult {
  grpc::Status status;
  hive::bridge::v1::RequestRecord record;
};
RecordResult GetRequest(Stub& stub, const std::string& request_id);
RecordResult CancelRequest(Stub& stub, const std::string& request_id);

// A ListDevices call for the first page of every account's devices; fills
// `response` when given.
grpc::Status ListDevices(Stub& stub, hive::bridge::v1::ListDevicesResponse* response = nullptr);

// The status a SubscribeEvents call ends with when it ends at once (a
// rejected request), or DEADLINE_EXCEEDED when it is accepted and streams.
grpc::Status SubscribeStatus(Stub& stub, const hive::bridge::v1::SubscribeEventsRequest& request,
                             absl::Duration deadline = absl::Seconds(2));

}  // namespace hive::integration

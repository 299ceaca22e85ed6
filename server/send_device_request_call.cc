#include "server/send_device_request_call.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bridge/codec/device_request.h"
#include "bridge/log.h"
#include "bridge/uuid.h"
#include "google/protobuf/util/time_util.h"
#include "server/backend_access.h"
#include "server/call_deadline.h"
#include "server/grpc_status.h"

namespace hive::server {
namespace {

using hive::bridge::v1::SendDeviceRequestRequest;
using hive::bridge::v1::SendDeviceRequestResponse;

// Our own deadline answer should reach the caller before its own deadline
// fires, so it sees which wait ran out.
absl::Time WaitDeadline(absl::Time now, absl::Time call_deadline) {
  const absl::Duration budget = call_deadline - now;
  return call_deadline - std::min(absl::Milliseconds(50), budget / 20);
}

absl::Status ExpectUuid(absl::string_view field, const std::string& value, bool required) {
  if (value.empty() && !required) return absl::OkStatus();
  if (IsUuid(value)) return absl::OkStatus();
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  return absl::InvalidArgumentError(absl::StrCat(field, ": expected a UUID, got \"", value.substr(0, 64), "\""));
}

class SendDeviceRequestReactor;

// Shared by the reactor and every callback that may outlive it; the first
// Finish wins and later ones are ignored. A callback that works on the
// reactor pins it (`pins`), and the reactor is deleted by whichever comes
// last: OnDone or the last unpin.
struct CallState {
  absl::Mutex mu;
  SendDeviceRequestReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;
  bool finished ABSL_GUARDED_BY(mu) = false;
  bool done ABSL_GUARDED_BY(mu) = false;
  int pins ABSL_GUARDED_BY(mu) = 0;
  bool waiter_registered ABSL_GUARDED_BY(mu) = false;
  RequestCorrelator::WaiterId waiter ABSL_GUARDED_BY(mu) = 0;
  // Cluster mode: the call routed to another replica, for Cancel.
  std::string routed_call ABSL_GUARDED_BY(mu);
};

class SendDeviceRequestReactor final : public grpc::ServerUnaryReactor {
 public:
  SendDeviceRequestReactor(grpc::CallbackServerContext* context, const SendDeviceRequestRequest* request,
                           SendDeviceRequestResponse* response, const SendDeviceRequestDeps& deps,
                           std::optional<BackendGrant> grant)
      : request_(*request),
        response_(*response),
        deps_(deps),
        grant_(std::move(grant)),
        state_(std::make_shared<CallState>()) {
    absl::MutexLock lock(&state_->mu);
    state_->reactor = this;
    const absl::Time now = deps_.clock.Now();
    deadline_ = WaitDeadline(now, CallDeadline(*context, now, deps_.default_timeout));
  }

  void Begin() {
    if (deps_.draining) return FinishOnce(state_, absl::UnavailableError("bridge is shutting down"));
    if (absl::Status valid = ValidateSendDeviceRequest(request_); !valid.ok()) return FinishOnce(state_, valid);
    request_id_ = request_.request_id().empty() ? NewUuid() : CanonicalUuid(request_.request_id());
    device_id_ = CanonicalUuid(request_.device_id());
    account_id_ = CanonicalUuid(request_.account_id());
    if (std::shared_ptr<DeviceLink> link = deps_.registry.Find(device_id_)) return Dispatch(link);
    // In cluster mode the device may be held by another replica, and a
    // device we wait for may connect to any.
    SessionRegistry& directory = deps_.router != nullptr ? deps_.router->fleet() : deps_.registry;
    if (deps_.router != nullptr) {
      if (std::shared_ptr<DeviceLink> announced = directory.Find(device_id_)) return Reach(announced);
    }
    const absl::Duration connect_timeout =
        absl::Seconds(request_.connect_timeout().seconds()) + absl::Nanoseconds(request_.connect_timeout().nanos());
    if (connect_timeout <= absl::ZeroDuration()) return FinishOnce(state_, NotConnected());
    const absl::Time connect_deadline = std::min(deadline_, deps_.clock.Now() + connect_timeout);
    directory.AwaitConnect(device_id_, connect_deadline, [state = state_](const std::shared_ptr<DeviceLink>& link) {
      SendDeviceRequestReactor* reactor = Pin(state);
      if (reactor == nullptr) return;
      if (link == nullptr) {
        // No link: the wait timed out, or the bridge is shutting down.
        FinishOnce(state, reactor->deps_.draining ? absl::UnavailableError("bridge is shutting down")
                                                  : reactor->NotConnected());
      } else {
        reactor->Reach(link);
      }
      Unpin(state);
    });
  }

  void OnCancel() override {
    RequestCorrelator::WaiterId waiter = 0;
    bool registered = false;
    std::string routed_call;
    {
      absl::MutexLock lock(&state_->mu);
      registered = state_->waiter_registered;
      waiter = state_->waiter;
      routed_call = state_->routed_call;
    }
    if (registered) deps_.correlator.Cancel(request_id_, waiter);
    if (!routed_call.empty()) deps_.router->Cancel(routed_call);
    FinishOnce(state_, absl::CancelledError("call cancelled by the caller"));
  }

  void OnDone() override {
    {
      absl::MutexLock lock(&state_->mu);
      state_->done = true;
      if (state_->pins > 0) return;  // the last Unpin deletes
    }
    delete this;
  }

 private:
  // The reactor, kept alive until Unpin, or null once the call is finished.
  static SendDeviceRequestReactor* Pin(const std::shared_ptr<CallState>& state) {
    absl::MutexLock lock(&state->mu);
    if (state->finished) return nullptr;
    ++state->pins;
    return state->reactor;
  }

  static void Unpin(const std::shared_ptr<CallState>& state) {
    SendDeviceRequestReactor* orphan = nullptr;
    {
      absl::MutexLock lock(&state->mu);
      if (--state->pins == 0 && state->done) orphan = state->reactor;
    }
    delete orphan;
  }

  static void FinishOnce(const std::shared_ptr<CallState>& state, absl::StatusOr<SendDeviceRequestResponse> outcome) {
    SendDeviceRequestReactor* reactor = nullptr;
    {
      absl::MutexLock lock(&state->mu);
      if (state->finished) return;
      state->finished = true;
      reactor = state->reactor;
    }
    if (outcome.ok()) {
      reactor->response_ = *std::move(outcome);
      reactor->Finish(grpc::Status::OK);
    } else {
      reactor->Finish(ToGrpcStatus(outcome.status()));
    }
  }

  absl::Status NotConnected() const {
    return absl::NotFoundError(absl::StrCat("device ", request_.device_id(), " is not connected"));
  }

  // Delivers to the device if it is connected here, else routes the request
  // to the replica that announced `link`.
  void Reach(const std::shared_ptr<DeviceLink>& announced) {
    if (grant_.has_value() && !grant_->Allows(announced->account_id())) {
      return FinishOnce(state_, AccountDenied(*grant_, announced->account_id()));
    }
    if (std::shared_ptr<DeviceLink> local = deps_.registry.Find(device_id_)) return Dispatch(local);
    if (deps_.router == nullptr) return Dispatch(announced);
    std::string call = deps_.router->Route(
        WireRequest(), announced->Describe().replica(), deadline_,
        [state = state_](absl::StatusOr<SendDeviceRequestResponse> outcome) { FinishOnce(state, std::move(outcome)); });
    absl::MutexLock lock(&state_->mu);
    state_->routed_call = std::move(call);
  }

  // The request as a replica delivers it: canonical ids, a request id.
  SendDeviceRequestRequest WireRequest() const {
    SendDeviceRequestRequest wire = request_;
    wire.set_request_id(request_id_);
    wire.set_device_id(device_id_);
    wire.set_account_id(account_id_);
    return wire;
  }

  void Dispatch(const std::shared_ptr<DeviceLink>& link) {
    if (grant_.has_value() && !grant_->Allows(link->account_id())) {
      return FinishOnce(state_, AccountDenied(*grant_, link->account_id()));
    }
    std::optional<RequestCorrelator::WaiterId> waiter = DeliverToDevice(
        *link, {request_, request_id_, device_id_, account_id_}, deadline_, deps_.delivery, deps_.correlator,
        [state = state_](absl::StatusOr<SendDeviceRequestResponse> outcome) { FinishOnce(state, std::move(outcome)); });
    if (!waiter.has_value()) return;
    absl::MutexLock lock(&state_->mu);
    state_->waiter_registered = true;
    state_->waiter = *waiter;
  }

  const SendDeviceRequestRequest& request_;
  SendDeviceRequestResponse& response_;
  const SendDeviceRequestDeps& deps_;
  // The caller's grant when backend authorisation is on.
  const std::optional<BackendGrant> grant_;
  const std::shared_ptr<CallState> state_;
  absl::Time deadline_;
  // The request's ids in canonical spelling.
  std::string request_id_;
  std::string device_id_;
  std::string account_id_;
};

}  // namespace

absl::Status ValidateSendDeviceRequest(const SendDeviceRequestRequest& request) {
  for (auto [field, value, required] :
       {std::tuple{"device_id", &request.device_id(), true}, std::tuple{"account_id", &request.account_id(), false},
        std::tuple{"request_id", &request.request_id(), false}}) {
    if (absl::Status status = ExpectUuid(field, *value, required); !status.ok()) return status;
  }
  if (absl::StatusOr<std::string> command = codec::WireCommandOf(request.command()); !command.ok()) {
    return command.status();
  }
  if (request.connect_timeout().seconds() < 0 || request.connect_timeout().nanos() < 0) {
    return absl::InvalidArgumentError("connect_timeout: must not be negative");
  }
  if (!hive::bridge::v1::WaitMode_IsValid(request.wait())) {
    return absl::InvalidArgumentError(absl::StrCat("wait: unknown mode ", request.wait()));
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* StartSendDeviceRequest(grpc::CallbackServerContext* context,
                                                 const SendDeviceRequestRequest* request,
                                                 SendDeviceRequestResponse* response, const SendDeviceRequestDeps& deps,
                                                 std::optional<BackendGrant> grant) {
  auto* reactor = new SendDeviceRequestReactor(context, request, response, deps, std::move(grant));
  reactor->Begin();
  return reactor;
}

}  // namespace hive::server

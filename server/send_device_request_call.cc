#include "server/send_device_request_call.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bridge/codec/device_request.h"
#include "bridge/log.h"
#include "bridge/proto_time.h"
#include "bridge/queue/request_record.h"
#include "bridge/queue/stable_digest.h"
#include "bridge/uuid.h"
#include "google/protobuf/util/time_util.h"
#include "server/backend_access.h"
#include "server/call_deadline.h"
#include "server/grpc_status.h"
#include "server/request_audit.h"
#include "server/request_metrics.h"

namespace hive::server {
namespace {

using hive::bridge::v1::SendDeviceRequestRequest;
using hive::bridge::v1::SendDeviceRequestResponse;

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
  // OnCancel ran: a waiter or routed call registered after it must be
  // cancelled by whoever registered it.
  bool cancelled ABSL_GUARDED_BY(mu) = false;
  int pins ABSL_GUARDED_BY(mu) = 0;
  bool waiter_registered ABSL_GUARDED_BY(mu) = false;
  RequestCorrelator::WaiterId waiter ABSL_GUARDED_BY(mu) = 0;
  // The last wait parked for the device to connect (0: none), so that a
  // cancelled call gives its --max-connect-waiters place back at once.
  SessionRegistry::WaiterId connect_waiter ABSL_GUARDED_BY(mu) = 0;
  // Cluster mode: the call routed to another replica, for Cancel.
  std::string routed_call ABSL_GUARDED_BY(mu);
};

// Ownership of the call's messages: gRPC owns the request and the response
// and frees both once OnDone has run. Begin reads the request while gRPC
// still holds the call; a call that waits for its device to connect goes on
// in a registry callback that may run after OnDone (a pinned reactor
// outlives OnDone), so before it waits it copies the request into
// `owned_request_` and reads only that from then on. The common path (the
// device is connected) pays no copy. The response is written only by the
// single winning FinishOnce, just before Finish: OnDone cannot have run
// before Finish, so the response is still alive then, and no one touches it
// afterwards.
class SendDeviceRequestReactor final : public grpc::ServerUnaryReactor {
 public:
  SendDeviceRequestReactor(grpc::CallbackServerContext* context, const SendDeviceRequestRequest* request,
                           SendDeviceRequestResponse* response, const SendDeviceRequestDeps& deps, TraceContext trace,
                           std::optional<BackendGrant> grant)
      : request_(request),
        response_(*response),
        deps_(deps),
        grant_(std::move(grant)),
        trace_(std::move(trace)),
        traceparent_(trace_.Traceparent()),
        started_at_(deps.clock.Now()),
        state_(std::make_shared<CallState>()) {
    absl::MutexLock lock(&state_->mu);
    state_->reactor = this;
    const absl::Time now = started_at_;
    deadline_ = WaitDeadline(now, CallDeadline(*context, now, deps_.default_timeout));
  }

  void Begin() {
    if (deps_.draining) return FinishOnce(state_, absl::UnavailableError("bridge is shutting down"));
    if (absl::Status valid = ValidateSendDeviceRequest(*request_); !valid.ok()) return FinishOnce(state_, valid);
    request_id_ = request_->request_id().empty() ? NewUuid() : CanonicalUuid(request_->request_id());
    device_id_ = CanonicalUuid(request_->device_id());
    account_id_ = CanonicalUuid(request_->account_id());
    // An account the caller may not act for is refused before any lookup,
    // so the answer says nothing about its devices.
    if (grant_.has_value() && !account_id_.empty() && !grant_->Allows(account_id_)) {
      return FinishOnce(state_, AccountDenied(*grant_, account_id_));
    }
    if (absl::Status queueing = CheckQueueing(); !queueing.ok()) return FinishOnce(state_, queueing);
    // A request id the queue holds is answered from its record: a retry of a
    // queued request never sends it again.
    if (deps_.queue != nullptr && deps_.queue->Knows(request_id_)) return AnswerQueued();
    std::shared_ptr<DeviceLink> local = deps_.registry.Find(device_id_);
    if (Visible(local)) return Dispatch(local);
    // In cluster mode the device may be held by another replica, and a
    // device we wait for may connect to any.
    std::shared_ptr<DeviceLink> announced;
    if (deps_.router != nullptr) {
      announced = directory().Find(device_id_);
      if (Visible(announced)) return Reach(announced);
    }
    const absl::Duration connect_timeout = DurationOf(request_->connect_timeout());
    if (connect_timeout <= absl::ZeroDuration()) {
      if (queued()) return Enqueue();
      return FinishOnce(state_, NotConnected());
    }
    const absl::Time connect_by = deps_.clock.Now() + connect_timeout;
    connect_deadline_ = std::min(deadline_, connect_by);
    call_deadline_first_ = deadline_ <= connect_by;
    // From here the call goes on in callbacks that may outlive gRPC's copy.
    owned_request_.emplace(*request_);
    request_ = &*owned_request_;
    // A device connected outside the caller's grant waits as an absent one
    // would: only its next connect (under another account) could show it.
    const bool hidden = local != nullptr || announced != nullptr;
    AwaitDevice(state_, /*next_connect=*/hidden);
  }

  void OnCancel() override {
    RequestCorrelator::WaiterId waiter = 0;
    bool registered = false;
    std::string routed_call;
    SessionRegistry::WaiterId connect_waiter = 0;
    {
      absl::MutexLock lock(&state_->mu);
      state_->cancelled = true;
      registered = state_->waiter_registered;
      waiter = state_->waiter;
      routed_call = state_->routed_call;
      connect_waiter = state_->connect_waiter;
    }
    if (connect_waiter != 0) directory().StopWaiting(device_id_, connect_waiter);
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
  // Records what the call just registered (a connect wait, a routed call, a
  // correlator waiter) for OnCancel to cancel. True when OnCancel already
  // ran and so missed it: the caller then cancels it itself.
  template <typename Registered>
  static bool Record(const std::shared_ptr<CallState>& state, Registered registered) {
    absl::MutexLock lock(&state->mu);
    registered(*state);
    return state->cancelled;
  }

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
    // Only this winner gets here, and gRPC runs OnDone (and frees the
    // response) only after the Finish below: the response is still ours.
    if (reactor->deps_.audit) {
      AuditDeviceRequest(*reactor->request_, outcome, reactor->grant_,
                         reactor->deps_.clock.Now() - reactor->started_at_, reactor->trace_.trace_id);
    }
    if (outcome.ok()) {
      reactor->response_ = *std::move(outcome);
      if (reactor->deps_.metrics != nullptr) reactor->deps_.metrics->Observe(*reactor->request_, reactor->response_);
      reactor->Finish(grpc::Status::OK);
    } else {
      reactor->Finish(ToGrpcStatus(outcome.status()));
    }
  }

  // Waits in the directory for the device to connect (`next_connect`: to
  // connect again, ignoring the link it has now). The reactor is alive
  // throughout: called from Begin (gRPC runs OnDone only after the handler
  // returned) or by a pinned callback.
  static void AwaitDevice(const std::shared_ptr<CallState>& state, bool next_connect) {
    SendDeviceRequestReactor* reactor = nullptr;
    {
      absl::MutexLock lock(&state->mu);
      reactor = state->reactor;
    }
    SessionRegistry::ConnectWaiter woken = [state](const std::shared_ptr<DeviceLink>& link) {
      OnConnectWait(state, link);
    };
    SessionRegistry& directory = reactor->directory();
    const std::string& device_id = reactor->device_id_;
    SessionRegistry::WaiterId parked = 0;
    absl::Status waiting =
        next_connect ? directory.AwaitNextConnect(device_id, reactor->connect_deadline_, std::move(woken), &parked)
                     : directory.AwaitConnect(device_id, reactor->connect_deadline_, std::move(woken), &parked);
    if (!waiting.ok()) return FinishOnce(state, waiting);
    if (parked == 0) return;  // woken at once
    if (Record(state, [parked](CallState& call) { call.connect_waiter = parked; })) {
      directory.StopWaiting(device_id, parked);
    }
  }

  static void OnConnectWait(const std::shared_ptr<CallState>& state, const std::shared_ptr<DeviceLink>& link) {
    SendDeviceRequestReactor* reactor = Pin(state);
    if (reactor == nullptr) return;
    if (link == nullptr) {
      // No link: the wait ran out, or the bridge is shutting down. A request
      // with queue_ttl is queued when connect_timeout ran out.
      if (reactor->deps_.draining) {
        FinishOnce(state, absl::UnavailableError("bridge is shutting down"));
      } else if (reactor->queued() && !reactor->call_deadline_first_) {
        reactor->Enqueue();
      } else {
        FinishOnce(state, reactor->ConnectWaitOver());
      }
    } else if (!reactor->Visible(link)) {
      AwaitDevice(state, /*next_connect=*/true);
    } else {
      reactor->Reach(link);
    }
    Unpin(state);
  }

  SessionRegistry& directory() const { return deps_.router != nullptr ? deps_.router->fleet() : deps_.registry; }

  // Whether the caller may know of `link`: a device outside the caller's
  // grant is answered as an absent one, so that restricted callers cannot
  // probe which devices of other accounts are online.
  bool Visible(const std::shared_ptr<DeviceLink>& link) const {
    return link != nullptr && (!grant_.has_value() || grant_->Allows(link->account_id()));
  }

  absl::Status NotConnected() const {
    return absl::NotFoundError(absl::StrCat("device ", request_->device_id(), " is not connected"));
  }

  // Why the wait for the device ended without it: connect_timeout ran out
  // (NOT_FOUND, as for a device not connected), or the call's own deadline
  // came first.
  absl::Status ConnectWaitOver() const {
    if (!call_deadline_first_) return NotConnected();
    return absl::DeadlineExceededError(
        absl::StrCat("device ", request_->device_id(), " did not connect before the call's deadline"));
  }

  // Delivers to the device if it is connected here, else routes the request
  // to the replica that announced `announced` (a link the caller may see).
  void Reach(const std::shared_ptr<DeviceLink>& announced) {
    if (std::shared_ptr<DeviceLink> local = deps_.registry.Find(device_id_)) return Dispatch(local);
    if (deps_.router == nullptr) return Dispatch(announced);
    // Held by another replica, with queued requests still to deliver: in
    // line behind them (the holder delivers them in order).
    if (queued() && deps_.queue != nullptr && deps_.queue->queued_for(device_id_) > 0) return Enqueue();
    std::string call = deps_.router->Route(
        WireRequest(), announced->Describe().replica(), deadline_, traceparent_,
        [state = state_](absl::StatusOr<SendDeviceRequestResponse> outcome) { FinishOnce(state, std::move(outcome)); });
    if (Record(state_, [&call](CallState& state) { state.routed_call = call; })) deps_.router->Cancel(call);
  }

  // The request as a replica delivers it: canonical ids, a request id.
  SendDeviceRequestRequest WireRequest() const {
    SendDeviceRequestRequest wire = *request_;
    wire.set_request_id(request_id_);
    wire.set_device_id(device_id_);
    wire.set_account_id(account_id_);
    return wire;
  }

  void Dispatch(const std::shared_ptr<DeviceLink>& link) {
    if (!Visible(link)) return FinishOnce(state_, NotConnected());
    // Connected, but older queued requests still await it: in line behind
    // them, so order holds.
    if (queued() && deps_.deliverer->Behind(device_id_)) return Enqueue();
    const RequestCorrelator::Watch watch =
        request_->outcome_events() ? RequestCorrelator::Watch::kEvents : RequestCorrelator::Watch::kNone;
    std::optional<RequestCorrelator::WaiterId> waiter = DeliverToDevice(
        *link, {*request_, request_id_, device_id_, account_id_, watch, traceparent_}, deadline_, deps_.delivery,
        deps_.correlator,
        [state = state_](absl::StatusOr<SendDeviceRequestResponse> outcome) { FinishOnce(state, std::move(outcome)); });
    if (!waiter.has_value()) return;
    if (Record(state_, [&waiter](CallState& state) {
          state.waiter_registered = true;
          state.waiter = *waiter;
        })) {
      deps_.correlator.Cancel(request_id_, *waiter);
    }
  }

  // Whether the caller asked for queueing (checked by CheckQueueing).
  bool queued() const { return request_->has_queue_ttl(); }

  // queue_ttl: positive, within --max-queue-ttl, and a store to keep it in.
  absl::Status CheckQueueing() const {
    if (!queued()) return absl::OkStatus();
    const absl::Duration ttl = DurationOf(request_->queue_ttl());
    if (ttl <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat("queue_ttl: must be positive, got ", absl::FormatDuration(ttl)));
    }
    if (ttl > deps_.max_queue_ttl) {
      return absl::InvalidArgumentError(
          absl::StrCat("queue_ttl: ", absl::FormatDuration(ttl),
                       " is longer than --max-queue-ttl=", absl::FormatDuration(deps_.max_queue_ttl)));
    }
    if (deps_.queue == nullptr) {
      return absl::FailedPreconditionError(
          "queue_ttl: queueing needs --state-dir (queued requests are kept on disk); this bridge runs without one");
    }
    // A restricted caller must name the account: the device is offline, so
    // the bridge cannot check it belongs to the caller's accounts until it
    // delivers (and refuses it then).
    if (grant_.has_value() && !grant_->all_accounts() && account_id_.empty()) {
      return absl::PermissionDeniedError(absl::StrCat("caller \"", grant_->caller(),
                                                      "\" must name one of its accounts in account_id to queue a "
                                                      "request"));
    }
    return absl::OkStatus();
  }

  // Answers a request id the queue holds from its record, after checking the
  // retry repeats the request.
  void AnswerQueued() {
    absl::StatusOr<std::optional<RequestQueue::Stored>> stored = deps_.queue->Get(request_id_);
    if (!stored.ok()) return FinishOnce(state_, stored.status());
    if (!stored->has_value()) return Enqueue();  // forgotten meanwhile (retention)
    const RequestQueue::Stored& known = **stored;
    if (known.record.device_id() != device_id_) {
      return FinishOnce(state_, absl::InvalidArgumentError(
                                    absl::StrCat("request_id ", request_id_, " already used for another device")));
    }
    if (known.digest != StableDigestOf(device_id_, *request_)) {
      return FinishOnce(state_, absl::InvalidArgumentError(absl::StrCat(
                                    "request_id ", request_id_,
                                    " already used for a different request (another command or state); a retry must "
                                    "repeat the request exactly, a new request needs a new request_id")));
    }
    // A restricted caller learns nothing of requests of other accounts.
    if (grant_.has_value() && !grant_->Allows(known.record.account_id())) return FinishOnce(state_, NotConnected());
    FinishOnce(state_, ResponseOf(known.record));
  }

  // Stores the request durably and answers QUEUED (or, for a request id
  // queued before, its record as it stands).
  void Enqueue() {
    if (!queued()) return FinishOnce(state_, NotConnected());
    // A request id sent before without queueing is answered as the
    // correlator remembers it: it is never queued (and so sent) again.
    if (std::optional<RequestCorrelator::Known> known = deps_.correlator.Find(request_id_)) {
      if (known->device_id != device_id_) {
        return FinishOnce(state_, absl::InvalidArgumentError(
                                      absl::StrCat("request_id ", request_id_, " already used for another device")));
      }
      return FinishOnce(state_, ResponseOf(RecordOf(request_id_, *known)));
    }
    const absl::Duration ttl = DurationOf(request_->queue_ttl());
    absl::StatusOr<RequestQueue::Enqueued> queued =
        deps_.queue->Enqueue(WireRequest(), StableDigestOf(device_id_, *request_), ttl);
    if (!queued.ok()) return FinishOnce(state_, queued.status());
    if (queued->inserted) {
      Log(LogLevel::kInfo, "request_queued",
          {{"request", request_id_},
           {"device", device_id_},
           {"account", account_id_},
           {"ttl", absl::FormatDuration(ttl)},
           {"trace", trace_.trace_id}});
      deps_.deliverer->Queued(queued->record);
    }
    FinishOnce(state_, ResponseOf(queued->record));
  }

  // gRPC's request, or `owned_request_` once the call outlives Begin.
  const SendDeviceRequestRequest* request_;
  std::optional<SendDeviceRequestRequest> owned_request_;
  SendDeviceRequestResponse& response_;
  const SendDeviceRequestDeps& deps_;
  // The caller's grant when backend authorisation is on.
  const std::optional<BackendGrant> grant_;
  // The call's trace, for its log lines, and this call as the parent of what
  // it sends on (a routed request, the device's frame).
  const TraceContext trace_;
  const std::string traceparent_;
  const absl::Time started_at_;
  const std::shared_ptr<CallState> state_;
  absl::Time deadline_;
  // While waiting for the device: until when, and whether that is the
  // call's deadline rather than its connect_timeout.
  absl::Time connect_deadline_;
  bool call_deadline_first_ = false;
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
                                                 TraceContext trace, std::optional<BackendGrant> grant) {
  auto* reactor = new SendDeviceRequestReactor(context, request, response, deps, std::move(trace), std::move(grant));
  reactor->Begin();
  return reactor;
}

}  // namespace hive::server

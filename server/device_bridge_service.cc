#include "server/device_bridge_service.h"

#include "absl/strings/str_cat.h"
#include "bridge/uuid.h"
#include "server/call_trace.h"
#include "server/grpc_status.h"
#include "server/subscribe_events_call.h"

namespace hive::server {
namespace {

using hive::bridge::v1::GetDeviceRequest;
using hive::bridge::v1::GetDeviceResponse;
using hive::bridge::v1::ListDevicesRequest;
using hive::bridge::v1::ListDevicesResponse;

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
// A version filter longer than any version a device may send is a mistake.
constexpr size_t kMaxVersionBytes = 1024;

absl::Status ValidateListDevices(const ListDevicesRequest& request) {
  if (!request.account_id().empty() && !IsUuid(request.account_id())) {
    return absl::InvalidArgumentError(
        absl::StrCat("account_id: expected a UUID, got \"", request.account_id().substr(0, 64), "\""));
  }
  if (request.page_size() < 0 || request.page_size() > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must be between 0 and ", kMaxPageSize, ", got ", request.page_size()));
  }
  // The page token is the last device id of the previous page.
  if (!request.page_token().empty() && !IsUuid(request.page_token())) {
    return absl::InvalidArgumentError("page_token: not a token returned by ListDevices");
  }
  if (!hive::bridge::v1::Presence_IsValid(request.presence())) {
    return absl::InvalidArgumentError(absl::StrCat("presence: unknown value ", request.presence()));
  }
  if (request.version().size() > kMaxVersionBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("version: at most ", kMaxVersionBytes, " bytes, got ", request.version().size()));
  }
  return absl::OkStatus();
}

}  // namespace

DeviceBridgeService::DeviceBridgeService(Options options, const Clock& clock, SessionRegistry& registry,
                                         RequestCorrelator& correlator, EventHub& hub, ClusterRouter* router,
                                         const BackendAccess& access, const TwinStore& twins)
    : directory_(router != nullptr ? router->fleet() : registry),
      hub_(hub),
      twins_(twins),
      view_(directory_, twins),
      access_(access),
      send_deps_{clock,
                 registry,
                 correlator,
                 options.default_request_timeout,
                 {options.max_frame_bytes, options.trace_to_device},
                 draining_,
                 router,
                 options.queue,
                 options.deliverer,
                 options.max_queue_ttl,
                 options.request_metrics,
                 options.audit_requests},
      records_deps_{correlator, options.queue, options.deliverer},
      event_delivery_(options.event_delivery),
      trace_metrics_(options.trace_metrics) {}

grpc::ServerUnaryReactor* DeviceBridgeService::SendDeviceRequest(
    grpc::CallbackServerContext* context, const hive::bridge::v1::SendDeviceRequestRequest* request,
    hive::bridge::v1::SendDeviceRequestResponse* response) {
  TraceContext trace = TraceCall(*context, trace_metrics_);
  absl::StatusOr<std::optional<BackendGrant>> grant = access_.Admit(*context);
  if (!grant.ok()) return FinishNow(context, grant.status());
  return StartSendDeviceRequest(context, request, response, send_deps_, std::move(trace), *std::move(grant));
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* DeviceBridgeService::SubscribeEvents(grpc::CallbackServerContext* context,
                                                                                 const grpc::ByteBuffer* bytes) {
  TraceCall(*context, trace_metrics_);
  absl::StatusOr<std::optional<BackendGrant>> grant = access_.Admit(*context);
  if (!grant.ok()) return RejectSubscribeEvents(grant.status());
  absl::StatusOr<hive::bridge::v1::SubscribeEventsRequest> request = ParseSubscribeEventsRequest(*bytes);
  if (!request.ok()) return RejectSubscribeEvents(request.status());
  if (!grant->has_value()) return StartSubscribeEvents(context, *request, hub_, draining_, event_delivery_);
  // A restricted caller sees only its accounts: none named means all of them.
  hive::bridge::v1::SubscribeEventsRequest& narrowed = *request;
  if (narrowed.account_ids().empty()) {
    for (const std::string& account : (*grant)->accounts()) narrowed.add_account_ids(account);
  }
  for (const std::string& account : narrowed.account_ids()) {
    if (IsUuid(account) && !(*grant)->Allows(CanonicalUuid(account))) {
      return RejectSubscribeEvents(AccountDenied(**grant, account));
    }
  }
  return StartSubscribeEvents(context, narrowed, hub_, draining_, event_delivery_);
}

grpc::ServerUnaryReactor* DeviceBridgeService::ListDevices(grpc::CallbackServerContext* context,
                                                           const ListDevicesRequest* request,
                                                           ListDevicesResponse* response) {
  TraceCall(*context, trace_metrics_);
  absl::StatusOr<std::optional<BackendGrant>> grant = access_.Admit(*context);
  if (!grant.ok()) return FinishNow(context, grant.status());
  if (absl::Status valid = ValidateListDevices(*request); !valid.ok()) return FinishNow(context, valid);
  if (grant->has_value() && !(*grant)->all_accounts()) {
    if (request->account_id().empty()) {
      return FinishNow(context,
                       absl::PermissionDeniedError(absl::StrCat("caller \"", (*grant)->caller(),
                                                                "\" must name one of its accounts in account_id")));
    }
    if (!(*grant)->Allows(CanonicalUuid(request->account_id()))) {
      return FinishNow(context, AccountDenied(**grant, request->account_id()));
    }
  }
  const size_t page_size = request->page_size() == 0 ? kDefaultPageSize : request->page_size();
  DeviceView::Query query;
  query.account_id = CanonicalUuid(request->account_id());
  query.presence = request->presence() == hive::bridge::v1::PRESENCE_UNSPECIFIED ? hive::bridge::v1::PRESENCE_ONLINE
                                                                                 : request->presence();
  query.version = request->version();
  query.after = CanonicalUuid(request->page_token());
  // One more than the page tells whether another page follows.
  query.limit = page_size + 1;
  std::vector<hive::bridge::v1::Device> devices = view_.List(query);
  const bool more = devices.size() > page_size;
  if (more) devices.pop_back();
  for (auto& device : devices) *response->add_devices() = std::move(device);
  if (more) response->set_next_page_token(response->devices().rbegin()->device_id());
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* DeviceBridgeService::GetDevice(grpc::CallbackServerContext* context,
                                                         const GetDeviceRequest* request, GetDeviceResponse* response) {
  TraceCall(*context, trace_metrics_);
  if (!IsUuid(request->device_id())) {
    return FinishNow(context, absl::InvalidArgumentError(absl::StrCat("device_id: expected a UUID, got \"",
                                                                      request->device_id().substr(0, 64), "\"")));
  }
  absl::StatusOr<std::optional<BackendGrant>> grant = access_.Admit(*context);
  if (!grant.ok()) return FinishNow(context, grant.status());
  std::optional<hive::bridge::v1::Device> device = view_.Find(CanonicalUuid(request->device_id()));
  // A device of an account outside the caller's grant is answered as an
  // absent one: a restricted caller must not learn which of other accounts'
  // devices exist.
  if (!device.has_value() || (grant->has_value() && !(*grant)->Allows(device->account_id()))) {
    return FinishNow(context, absl::NotFoundError(absl::StrCat("device ", request->device_id(), " is not connected")));
  }
  *response->mutable_device() = *std::move(device);
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerWriteReactor<hive::bridge::v1::WatchDevicesResponse>* DeviceBridgeService::WatchDevices(
    grpc::CallbackServerContext* context, const hive::bridge::v1::WatchDevicesRequest* request) {
  TraceCall(*context, trace_metrics_);
  absl::StatusOr<std::optional<BackendGrant>> grant = access_.Admit(*context);
  if (!grant.ok()) return RejectWatchDevices(grant.status());
  const WatchDevicesDeps deps{hub_, twins_, twins_.types(), view_, draining_};
  if (!grant->has_value()) return StartWatchDevices(*request, deps);
  // A restricted caller sees only its accounts: none named means all of them.
  hive::bridge::v1::WatchDevicesRequest narrowed = *request;
  if (narrowed.account_ids().empty()) {
    for (const std::string& account : (*grant)->accounts()) narrowed.add_account_ids(account);
  }
  for (const std::string& account : narrowed.account_ids()) {
    if (IsUuid(account) && !(*grant)->Allows(CanonicalUuid(account))) {
      return RejectWatchDevices(AccountDenied(**grant, account));
    }
  }
  return StartWatchDevices(narrowed, deps);
}

grpc::ServerUnaryReactor* DeviceBridgeService::GetRequest(grpc::CallbackServerContext* context,
                                                          const hive::bridge::v1::GetRequestRequest* request,
                                                          hive::bridge::v1::GetRequestResponse* response) {
  TraceCall(*context, trace_metrics_);
  absl::StatusOr<std::optional<BackendGrant>> grant = access_.Admit(*context);
  if (!grant.ok()) return FinishNow(context, grant.status());
  absl::StatusOr<hive::bridge::v1::RequestRecord> record = LookUpRequest(records_deps_, request->request_id(), *grant);
  if (!record.ok()) return FinishNow(context, record.status());
  *response->mutable_request() = *std::move(record);
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* DeviceBridgeService::CancelRequest(grpc::CallbackServerContext* context,
                                                             const hive::bridge::v1::CancelRequestRequest* request,
                                                             hive::bridge::v1::CancelRequestResponse* response) {
  const TraceContext trace = TraceCall(*context, trace_metrics_);
  if (draining_) return FinishNow(context, absl::UnavailableError("bridge is shutting down"));
  absl::StatusOr<std::optional<BackendGrant>> grant = access_.Admit(*context);
  if (!grant.ok()) return FinishNow(context, grant.status());
  absl::StatusOr<hive::bridge::v1::RequestRecord> record =
      CancelQueuedRequest(records_deps_, request->request_id(), *grant, trace.trace_id);
  if (!record.ok()) return FinishNow(context, record.status());
  *response->mutable_request() = *std::move(record);
  return FinishNow(context, absl::OkStatus());
}

}  // namespace hive::server

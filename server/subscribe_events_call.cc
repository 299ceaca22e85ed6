#include "server/subscribe_events_call.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bridge/event_filter.h"
#include "bridge/stream_epoch.h"
#include "bridge/uuid.h"
#include "server/event_delivery_metrics.h"
#include "server/grpc_status.h"
#include "server/stream_write_reactor.h"

namespace hive::server {
namespace {

using hive::bridge::v1::SubscribeEventsRequest;
using hive::bridge::v1::SubscribeEventsResponse;

class SubscribeEventsReactor final : public StreamWriteReactor<SubscribeEventsResponse> {
 public:
  SubscribeEventsReactor(grpc::CallbackServerContext& context, const SubscribeEventsRequest& request, EventHub& hub,
                         EventDeliveryMetrics* delivery)
      : delivery_(delivery) {
    std::optional<hive::bridge::v1::StreamPosition> resume;
    if (request.has_resume_after()) resume = request.resume_after();
    // The subscription may wake us from a publisher thread at once; the
    // mutex orders that wake after construction.
    absl::MutexLock lock(&mu_);
    absl::StatusOr<std::unique_ptr<Subscription>> subscription =
        hub.TrySubscribe(EventFilter::FromRequest(request), resume, [this] { WriteNext(); });
    if (!subscription.ok()) {  // --max-subscribers
      FinishLocked(ToGrpcStatus(subscription.status()));
      return;
    }
    subscription_ = *std::move(subscription);
    // Headers at once, before any event: a caller learns the stream was
    // accepted even when no event matches for a while (the HTTP gateway
    // answers 200 only then, and the refusal's own status otherwise).
    context.AddInitialMetadata(kStreamAcceptedMetadata, "1");
    StartSendInitialMetadata();
    WriteNextLocked();
  }

 private:
  bool NextLocked(SubscribeEventsResponse& response) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) override {
    if (subscription_ == nullptr) return false;
    bool more_queued = false;
    std::shared_ptr<const hive::bridge::v1::DeviceEvent> event = subscription_->Next(&more_queued);
    if (event == nullptr) {
      if (subscription_->is_closed()) FinishLocked(grpc::Status::OK);  // the bridge is draining
      return false;
    }
    // Every subscriber writes the hub's one shared event: the response
    // borrows it (no per-subscriber copy) until the write is done. gRPC only
    // reads it, and protobuf's const methods are thread-safe.
    response.unsafe_arena_set_allocated_event(const_cast<hive::bridge::v1::DeviceEvent*>(event.get()));
    borrowed_event_ = std::move(event);
    if (more_queued) MoreFollowsLocked();
    return true;
  }

  void WriteDoneLocked(bool ok, SubscribeEventsResponse& response) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) override {
    if (ok && delivery_ != nullptr && borrowed_event_ != nullptr) delivery_->Delivered(*borrowed_event_);
    ReturnBorrowedEventLocked(response);
  }

  void OnStreamDone() override {
    // Unsubscribing waits out any wake in flight, so none reaches a deleted reactor.
    std::unique_ptr<Subscription> subscription;
    {
      absl::MutexLock lock(&mu_);
      subscription = std::move(subscription_);
      ReturnBorrowedEventLocked(response());
    }
    subscription.reset();
  }

  // Takes the borrowed event back out of the response, which would
  // otherwise delete it.
  void ReturnBorrowedEventLocked(SubscribeEventsResponse& response) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (borrowed_event_ == nullptr) return;
    response.unsafe_arena_release_event();
    borrowed_event_.reset();
  }

  EventDeliveryMetrics* const delivery_;
  std::unique_ptr<Subscription> subscription_ ABSL_GUARDED_BY(mu_);
  // The event the response slot points to while a write is in flight.
  std::shared_ptr<const hive::bridge::v1::DeviceEvent> borrowed_event_ ABSL_GUARDED_BY(mu_);
};

absl::Status ExpectUuids(absl::string_view field, const google::protobuf::RepeatedPtrField<std::string>& values) {
  for (int i = 0; i < values.size(); ++i) {
    if (!IsUuid(values[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, "[", i, "]: expected a UUID, got \"", values[i].substr(0, 64), "\""));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSubscribeEvents(const SubscribeEventsRequest& request) {
  if (absl::Status status = ExpectUuids("account_ids", request.account_ids()); !status.ok()) return status;
  if (absl::Status status = ExpectUuids("device_ids", request.device_ids()); !status.ok()) return status;
  for (int i = 0; i < request.types().size(); ++i) {
    if (request.types(i).empty()) return absl::InvalidArgumentError(absl::StrCat("types[", i, "]: must not be empty"));
  }
  if (request.has_resume_after() && request.resume_after().epoch().empty()) {
    return absl::InvalidArgumentError("resume_after.epoch: required (take it from an event you received)");
  }
  if (request.has_resume_after() && !IsWellFormedEpoch(request.resume_after().epoch())) {
    return absl::InvalidArgumentError(absl::StrCat("resume_after.epoch: expected ", kEpochForms,
                                                   " as in an event you received, got \"",
                                                   request.resume_after().epoch().substr(0, 64), "\""));
  }
  return absl::OkStatus();
}

grpc::ServerWriteReactor<SubscribeEventsResponse>* RejectSubscribeEvents(const absl::Status& why) {
  return RejectStream<SubscribeEventsResponse>(ToGrpcStatus(why));
}

grpc::ServerWriteReactor<SubscribeEventsResponse>* StartSubscribeEvents(grpc::CallbackServerContext* context,
                                                                        const SubscribeEventsRequest* request,
                                                                        EventHub& hub,
                                                                        const std::atomic<bool>& draining,
                                                                        EventDeliveryMetrics* delivery) {
  if (draining) {
    return RejectStream<SubscribeEventsResponse>(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "bridge is shutting down"));
  }
  if (absl::Status valid = ValidateSubscribeEvents(*request); !valid.ok()) {
    return RejectStream<SubscribeEventsResponse>(ToGrpcStatus(valid));
  }
  return new SubscribeEventsReactor(*context, *request, hub, delivery);
}

}  // namespace hive::server

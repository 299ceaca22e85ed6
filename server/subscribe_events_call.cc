#include "server/subscribe_events_call.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bridge/event_filter.h"
#include "bridge/stream_epoch.h"
#include "bridge/uuid.h"
#include "server/event_delivery_metrics.h"
#include "server/grpc_status.h"

namespace hive::server {
namespace {

using hive::bridge::v1::SubscribeEventsRequest;
using hive::bridge::v1::SubscribeEventsResponse;

class SubscribeEventsReactor final : public grpc::ServerWriteReactor<SubscribeEventsResponse> {
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

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (ok && delivery_ != nullptr && borrowed_event_ != nullptr) delivery_->Delivered(*borrowed_event_);
    ReturnBorrowedEventLocked();
    if (!ok) return FinishLocked(grpc::Status::OK);  // the reader went away
    WriteNextLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    // Unsubscribing waits out any wake in flight, so none reaches a deleted reactor.
    std::unique_ptr<Subscription> subscription;
    {
      absl::MutexLock lock(&mu_);
      subscription = std::move(subscription_);
      ReturnBorrowedEventLocked();
    }
    subscription.reset();
    delete this;
  }

 private:
  void WriteNext() {
    absl::MutexLock lock(&mu_);
    WriteNextLocked();
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_ || subscription_ == nullptr) return;
    std::shared_ptr<const hive::bridge::v1::DeviceEvent> event = subscription_->Next();
    if (event == nullptr) {
      if (subscription_->is_closed()) FinishLocked(grpc::Status::OK);  // the bridge is draining
      return;
    }
    // Every subscriber writes the hub's one shared event: the response
    // borrows it (no per-subscriber copy) until the write is done. gRPC only
    // reads it, and protobuf's const methods are thread-safe.
    response_.unsafe_arena_set_allocated_event(const_cast<hive::bridge::v1::DeviceEvent*>(event.get()));
    borrowed_event_ = std::move(event);
    writing_ = true;
    StartWrite(&response_);
  }

  // Takes the borrowed event back out of the response, which would
  // otherwise delete it.
  void ReturnBorrowedEventLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (borrowed_event_ == nullptr) return;
    response_.unsafe_arena_release_event();
    borrowed_event_.reset();
  }

  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  EventDeliveryMetrics* const delivery_;
  absl::Mutex mu_;
  std::unique_ptr<Subscription> subscription_ ABSL_GUARDED_BY(mu_);
  SubscribeEventsResponse response_ ABSL_GUARDED_BY(mu_);
  // The event `response_` points to while a write is in flight.
  std::shared_ptr<const hive::bridge::v1::DeviceEvent> borrowed_event_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// A stream that ends at once with `status`.
class RejectedStream final : public grpc::ServerWriteReactor<SubscribeEventsResponse> {
 public:
  explicit RejectedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
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
  return new RejectedStream(ToGrpcStatus(why));
}

grpc::ServerWriteReactor<SubscribeEventsResponse>* StartSubscribeEvents(grpc::CallbackServerContext* context,
                                                                        const SubscribeEventsRequest* request,
                                                                        EventHub& hub,
                                                                        const std::atomic<bool>& draining,
                                                                        EventDeliveryMetrics* delivery) {
  if (draining) return new RejectedStream(grpc::Status(grpc::StatusCode::UNAVAILABLE, "bridge is shutting down"));
  if (absl::Status valid = ValidateSubscribeEvents(*request); !valid.ok()) {
    return new RejectedStream(ToGrpcStatus(valid));
  }
  return new SubscribeEventsReactor(*context, *request, hub, delivery);
}

}  // namespace hive::server

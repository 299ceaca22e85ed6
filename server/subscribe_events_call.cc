#include "server/subscribe_events_call.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bridge/event_filter.h"
#include "bridge/stream_epoch.h"
#include "bridge/uuid.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "server/event_delivery_metrics.h"
#include "server/event_response_bytes.h"
#include "server/grpc_status.h"
#include "server/stream_write_reactor.h"

namespace hive::server {
namespace {

using hive::bridge::v1::SubscribeEventsRequest;

// Writes bytes (SubscribeEvents is registered raw): each response is the
// hub's one serialization of the event behind this stream's field header
// (event_response_bytes.h), so a subscriber costs no serialization and no
// copy of the event.
class SubscribeEventsReactor final : public StreamWriteReactor<grpc::ByteBuffer> {
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
  bool NextLocked(grpc::ByteBuffer& response) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) override {
    if (subscription_ == nullptr) return false;
    bool more_queued = false;
    std::shared_ptr<const PublishedEvent> event = subscription_->NextPublished(&more_queued);
    if (event == nullptr) {
      if (subscription_->is_closed()) FinishLocked(grpc::Status::OK);  // the bridge is draining
      return false;
    }
    response = SubscribeEventsResponseBytes(event);
    written_event_ = event->event();
    if (more_queued) MoreFollowsLocked();
    return true;
  }

  void WriteDoneLocked(bool ok, grpc::ByteBuffer& response) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) override {
    if (ok && delivery_ != nullptr && written_event_ != nullptr) delivery_->Delivered(*written_event_);
    written_event_.reset();
    response.Clear();  // its reference to the event, which may be the last
  }

  void OnStreamDone() override {
    // Unsubscribing waits out any wake in flight, so none reaches a deleted reactor.
    std::unique_ptr<Subscription> subscription;
    {
      absl::MutexLock lock(&mu_);
      subscription = std::move(subscription_);
      written_event_.reset();
      response().Clear();
    }
    subscription.reset();
  }

  EventDeliveryMetrics* const delivery_;
  std::unique_ptr<Subscription> subscription_ ABSL_GUARDED_BY(mu_);
  // The event of the write in flight, for the delivery metrics.
  std::shared_ptr<const hive::bridge::v1::DeviceEvent> written_event_ ABSL_GUARDED_BY(mu_);
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

absl::StatusOr<SubscribeEventsRequest> ParseSubscribeEventsRequest(const grpc::ByteBuffer& bytes) {
  grpc::ByteBuffer copy = bytes;  // reading consumes the buffer; the copy shares its slices
  SubscribeEventsRequest request;
  if (!grpc::SerializationTraits<SubscribeEventsRequest>::Deserialize(&copy, &request).ok()) {
    return absl::InvalidArgumentError("request: not a hive.bridge.v1.SubscribeEventsRequest (protobuf parse failed)");
  }
  return request;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* RejectSubscribeEvents(const absl::Status& why) {
  return RejectStream<grpc::ByteBuffer>(ToGrpcStatus(why));
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* StartSubscribeEvents(grpc::CallbackServerContext* context,
                                                                 const SubscribeEventsRequest& request, EventHub& hub,
                                                                 const std::atomic<bool>& draining,
                                                                 EventDeliveryMetrics* delivery) {
  if (draining) {
    return RejectStream<grpc::ByteBuffer>(grpc::Status(grpc::StatusCode::UNAVAILABLE, "bridge is shutting down"));
  }
  if (absl::Status valid = ValidateSubscribeEvents(request); !valid.ok()) {
    return RejectStream<grpc::ByteBuffer>(ToGrpcStatus(valid));
  }
  return new SubscribeEventsReactor(*context, request, hub, delivery);
}

}  // namespace hive::server

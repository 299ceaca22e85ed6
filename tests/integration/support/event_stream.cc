#include "tests/integration/support/event_stream.h"

#include <utility>

#include "absl/strings/substitute.h"

namespace hive::integration {

EventStream::EventStream(hive::bridge::v1::DeviceBridge::Stub& stub, SubscribeEventsRequest request, OnGap on_gap)
    : on_gap_(on_gap), reader_([this, &stub, request = std::move(request)] { ReadAll(stub, request); }) {}

EventStream::~EventStream() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  reader_.join();
}

void EventStream::ReadAll(hive::bridge::v1::DeviceBridge::Stub& stub, SubscribeEventsRequest request) {
  while (!ReadCall(stub, request)) {
    absl::MutexLock lock(&mu_);
    ++resumes_;
  }
}

bool EventStream::ReadCall(hive::bridge::v1::DeviceBridge::Stub& stub, SubscribeEventsRequest& request) {
  grpc::ClientContext* context = nullptr;
  {
    absl::MutexLock lock(&mu_);
    context_ = std::make_unique<grpc::ClientContext>();
    context = context_.get();
    if (stopping_) context->TryCancel();
  }
  std::unique_ptr<grpc::ClientReader<hive::bridge::v1::SubscribeEventsResponse>> reader =
      stub.SubscribeEvents(context, request);
  hive::bridge::v1::SubscribeEventsResponse response;
  bool resume = false;
  while (!resume) {
    {
      absl::MutexLock lock(&mu_);
      auto may_read = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !paused_ || stopping_; };
      mu_.Await(absl::Condition(&may_read));
    }
    if (!reader->Read(&response)) break;
    DeviceEvent& event = *response.mutable_event();
    if (!event.has_gap()) {
      request.mutable_resume_after()->set_epoch(event.epoch());
      request.mutable_resume_after()->set_sequence(event.sequence());
    } else {
      // The events after the gap are read again after the resume point.
      resume = on_gap_ == OnGap::kResume && event.gap().reason() == hive::bridge::v1::GAP_REASON_SLOW_SUBSCRIBER &&
               request.has_resume_after();
    }
    absl::MutexLock lock(&mu_);
    events_.push_back(std::move(event));
  }
  if (resume) context->TryCancel();
  grpc::Status status = reader->Finish();
  if (resume) return false;
  absl::MutexLock lock(&mu_);
  finished_ = std::move(status);
  return true;
}

std::optional<DeviceEvent> EventStream::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !events_.empty() || finished_.has_value(); };
  if (!mu_.AwaitWithTimeout(absl::Condition(&ready), timeout) || events_.empty()) return std::nullopt;
  DeviceEvent event = std::move(events_.front());
  events_.pop_front();
  return event;
}

std::optional<DeviceEvent> EventStream::NextMatching(const EventPredicate& predicate, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (std::optional<DeviceEvent> event = Next(deadline - absl::Now())) {
    if (predicate(*event)) return event;
  }
  return std::nullopt;
}

std::optional<grpc::Status> EventStream::WaitFinished(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto finished = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return finished_.has_value(); };
  mu_.AwaitWithTimeout(absl::Condition(&finished), timeout);
  return finished_;
}

void EventStream::Pause() {
  absl::MutexLock lock(&mu_);
  paused_ = true;
}

void EventStream::Resume() {
  absl::MutexLock lock(&mu_);
  paused_ = false;
}

int EventStream::resumes() const {
  absl::MutexLock lock(&mu_);
  return resumes_;
}

EventPredicate OfType(absl::string_view type) {
  return [type = std::string(type)](const DeviceEvent& event) { return event.type() == type; };
}

EventPredicate FromDevice(absl::string_view device_id, absl::string_view type) {
  return [device_id = std::string(device_id), type = std::string(type)](const DeviceEvent& event) {
    return event.device_id() == device_id && (type.empty() || event.type() == type);
  };
}

EventPredicate WithMarker(absl::string_view marker) {
  return [marker = std::string(marker)](const DeviceEvent& event) { return MarkerOf(event) == marker; };
}

std::string MarkedEvent(absl::string_view type, absl::string_view marker) {
  return absl::Substitute(R"({"type":"$0","marker":"$1"})", type, marker);
}

std::string MarkerOf(const DeviceEvent& event) {
  auto it = event.extra().fields().find("marker");
  if (it == event.extra().fields().end() || !it->second.has_string_value()) return {};
  return it->second.string_value();
}

}  // namespace hive::integration

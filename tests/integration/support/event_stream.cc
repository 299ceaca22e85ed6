#include "tests/integration/support/event_stream.h"

#include <utility>

#include "absl/strings/substitute.h"

namespace hive::integration {

EventStream::EventStream(hive::bridge::v1::DeviceBridge::Stub& stub, SubscribeEventsRequest request)
    : reader_([this, &stub, request = std::move(request)] { ReadAll(stub, request); }) {}

EventStream::~EventStream() {
  context_.TryCancel();
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  reader_.join();
}

void EventStream::ReadAll(hive::bridge::v1::DeviceBridge::Stub& stub, const SubscribeEventsRequest& request) {
  std::unique_ptr<grpc::ClientReader<hive::bridge::v1::SubscribeEventsResponse>> reader =
      stub.SubscribeEvents(&context_, request);
  hive::bridge::v1::SubscribeEventsResponse response;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto may_read = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !paused_ || stopping_; };
      mu_.Await(absl::Condition(&may_read));
    }
    if (!reader->Read(&response)) break;
    absl::MutexLock lock(&mu_);
    events_.push_back(std::move(*response.mutable_event()));
  }
  grpc::Status status = reader->Finish();
  absl::MutexLock lock(&mu_);
  finished_ = std::move(status);
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

#include "clients/loadgen/event_subscribers.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/client_callback.h"

namespace hive::loadgen {

using hive::bridge::v1::SubscribeEventsRequest;
using hive::bridge::v1::SubscribeEventsResponse;

class EventSubscribers::Reader final : public grpc::ClientReadReactor<SubscribeEventsResponse> {
 public:
  Reader(EventSubscribers& owner, hive::bridge::v1::DeviceBridge::Stub& stub) : owner_(owner) {
    stub.async()->SubscribeEvents(&context_, &owner.request_, this);
    StartRead(&response_);
    StartCall();
  }

  void Cancel() { context_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream is over; OnDone follows
    const hive::bridge::v1::DeviceEvent& event = response_.event();
    if (event.has_gap()) {
      owner_.gaps_.fetch_add(1, std::memory_order_relaxed);
    } else {
      const auto& fields = event.extra().fields();
      const auto stamp_field = fields.find(std::string(kStampKey));
      std::optional<EventStamp> stamp;
      if (stamp_field != fields.end()) stamp = ParseStamp(stamp_field->second.string_value());
      if (stamp) {
        owner_.on_event_(*stamp);
      } else {
        owner_.unstamped_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override { owner_.OnReaderDone(status); }

 private:
  EventSubscribers& owner_;
  grpc::ClientContext context_;
  SubscribeEventsResponse response_;
};

EventSubscribers::EventSubscribers(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                                   SubscribeEventsRequest request, OnEvent on_event)
    : request_(std::move(request)), on_event_(std::move(on_event)) {
  for (const auto& channel : channels) stubs_.push_back(hive::bridge::v1::DeviceBridge::NewStub(channel));
}

EventSubscribers::~EventSubscribers() { Stop(); }

void EventSubscribers::Start(int count) {
  {
    absl::MutexLock lock(&mu_);
    running_ += count;
  }
  for (int i = 0; i < count; ++i) readers_.push_back(new Reader(*this, *stubs_[readers_.size() % stubs_.size()]));
}

void EventSubscribers::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  for (Reader* reader : readers_) reader->Cancel();
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* running) { return *running == 0; }, &running_));
  for (Reader* reader : readers_) delete reader;
  readers_.clear();
}

void EventSubscribers::OnReaderDone(const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  --running_;
  if (stopping_) return;
  ++ended_early_;
  if (first_error_.empty()) first_error_ = absl::StrCat(status.error_code(), ": ", status.error_message());
}

int EventSubscribers::ended_early() const {
  absl::MutexLock lock(&mu_);
  return ended_early_;
}

std::string EventSubscribers::first_error() const {
  absl::MutexLock lock(&mu_);
  return first_error_;
}

}  // namespace hive::loadgen

#include "tests/integration/support/health_check.h"

#include "absl/time/clock.h"

namespace hive::integration {
namespace {

constexpr char kCheck[] = "/grpc.health.v1.Health/Check";
constexpr char kWatch[] = "/grpc.health.v1.Health/Watch";
constexpr absl::Duration kCallBound = absl::Seconds(10);  // bounds a hang only

// Completion-queue tags: distinct addresses, one per kind of operation.
char tags[10];
void* Tag(int n) { return &tags[n]; }

}  // namespace

HealthAnswer CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  grpc::TemplatedGenericStub<grpc::health::v1::HealthCheckRequest, grpc::health::v1::HealthCheckResponse> stub(channel);
  grpc::CompletionQueue queue;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kCallBound));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  HealthAnswer answer;
  auto call = stub.PrepareUnaryCall(&context, kCheck, request, &queue);
  call->StartCall();
  call->Finish(&response, &answer.status, Tag(1));
  void* tag = nullptr;
  bool ok = false;
  queue.Next(&tag, &ok);
  answer.serving = response.status();
  queue.Shutdown();
  while (queue.Next(&tag, &ok)) {
  }
  return answer;
}

HealthWatch::HealthWatch(const std::shared_ptr<grpc::Channel>& channel, const std::string& service)
    : stub_(channel), call_(stub_.PrepareCall(&context_, kWatch, &queue_)), broken_(!Open(service)) {}

bool HealthWatch::Open(const std::string& service) {
  call_->StartCall(Tag(1));
  if (!Await(Tag(1), kCallBound)) return false;
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  call_->Write(request, Tag(2));
  if (!Await(Tag(2), kCallBound)) return false;
  call_->WritesDone(Tag(3));
  return Await(Tag(3), kCallBound);
}

HealthWatch::~HealthWatch() {
  context_.TryCancel();
  grpc::Status status;
  call_->Finish(&status, Tag(9));
  queue_.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (queue_.Next(&tag, &ok)) {
  }
}

bool HealthWatch::Await(void* tag, absl::Duration timeout) {
  const gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                             gpr_time_from_millis(absl::ToInt64Milliseconds(timeout), GPR_TIMESPAN));
  for (;;) {
    void* got = nullptr;
    bool ok = false;
    switch (queue_.AsyncNext(&got, &ok, deadline)) {
      case grpc::CompletionQueue::GOT_EVENT:
        if (got == tag) return ok;
        break;
      case grpc::CompletionQueue::TIMEOUT:
      case grpc::CompletionQueue::SHUTDOWN:
        return false;
    }
  }
}

std::optional<ServingStatus> HealthWatch::Next(absl::Duration timeout) {
  if (broken_) return std::nullopt;
  if (!reading_) {
    call_->Read(&response_, Tag(4));
    reading_ = true;
  }
  const gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                             gpr_time_from_millis(absl::ToInt64Milliseconds(timeout), GPR_TIMESPAN));
  void* got = nullptr;
  bool ok = false;
  if (queue_.AsyncNext(&got, &ok, deadline) != grpc::CompletionQueue::GOT_EVENT) return std::nullopt;
  reading_ = false;
  if (!ok) {
    broken_ = true;
    return std::nullopt;
  }
  return response_.status();
}

}  // namespace hive::integration

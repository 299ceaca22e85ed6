// server/sse_stream.h
// Server-Sent Events for the HTTP/JSON gateway: the text/event-stream framing
// (SseEvent, kSseHeartbeat), and GrpcStreamPump, which reads one server
// stream of the bridge's gRPC API (over the in-process channel) for a
// response body that an HTTP worker thread writes.
//
//   auto pump = std::make_shared<GrpcStreamPump<SubscribeEventsResponse>>(std::move(context),
//                                                                         kStreamAcceptedMetadata);
//   stub->async()->SubscribeEvents(&pump->context(), &request, pump.get());
//   pump->Start();
//   if (std::optional<grpc::Status> refused = pump->AwaitAccepted(); refused) → an HTTP error
//   loop: GrpcStreamPump<...>::Next next = pump->Wait(kHeartbeat);  → write SseEvent(...)
//   finally: pump->Cancel();  // returns once gRPC is done with the pump
//
// Start, AwaitAccepted, Wait and Cancel are called from one thread (the HTTP
// worker that serves the response); the callbacks come from gRPC's.
//
// Flow control: the next read starts only once the writer took the last
// message, so at most one message waits here; a slow HTTP reader backs up
// into gRPC's window and then the bridge's --subscriber-queue, which ends in
// a Gap event (SubscribeEvents) or a new snapshot (WatchDevices), as for a
// slow gRPC caller.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/client_callback.h"

namespace hive::server {

// One event: "id: ID\nevent: EVENT\ndata: DATA\n\n", each line of `data` on
// a data: line of its own; an empty id or event is left out.
std::string SseEvent(absl::string_view id, absl::string_view event, absl::string_view data);

// A comment line, which EventSource ignores: sent while no event comes so
// that proxies do not cut the idle connection, and so that a reader that
// went away is noticed.
inline constexpr absl::string_view kSseHeartbeat = ": heartbeat\n\n";

template <typename Response>
class GrpcStreamPump final : public grpc::ClientReadReactor<Response> {
 public:
  // What Wait() found: a message, the stream's end, or (neither) a timeout.
  struct Next {
    std::optional<Response> message;
    std::optional<grpc::Status> end;
  };

  // `accepted_header`: the initial metadata key by which the server says it
  // accepted the stream before its first message (kStreamAcceptedMetadata).
  GrpcStreamPump(std::unique_ptr<grpc::ClientContext> context, std::string accepted_header)
      : context_(std::move(context)), accepted_header_(std::move(accepted_header)) {}

  grpc::ClientContext& context() { return *context_; }

  // After the stub's async() call bound the pump. The hold keeps OnDone
  // away while a message waits here without a read in flight (Cancel).
  void Start() {
    this->AddHold();
    this->StartRead(&incoming_);
    this->StartCall();
  }

  // Blocks until the server accepted the stream (its headers came) or ended
  // it; returns the status of a stream that ended before it was accepted.
  std::optional<grpc::Status> AwaitAccepted() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](GrpcStreamPump* pump) ABSL_NO_THREAD_SAFETY_ANALYSIS { return pump->accepted_ || pump->done_; }, this));
    if (accepted_ || status_.ok()) return std::nullopt;
    return status_;
  }

  // Waits up to `timeout` for the next message or the end.
  Next Wait(absl::Duration timeout) {
    Next next;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(
          absl::Condition(
              +[](GrpcStreamPump* pump) ABSL_NO_THREAD_SAFETY_ANALYSIS { return pump->has_message_ || pump->done_; },
              this),
          timeout);
      if (has_message_) {
        has_message_ = false;
        next.message = std::move(incoming_);
        incoming_.Clear();
      } else if (done_) {
        next.end = status_;
        return next;
      } else {
        return next;
      }
    }
    // Outside the lock: gRPC may complete the read inline.
    this->StartRead(&incoming_);
    return next;
  }

  // Ends the call (when still open) and returns once gRPC is done with the
  // pump, so it may be destroyed.
  void Cancel() {
    context_->TryCancel();
    bool release = false;
    {
      absl::MutexLock lock(&mu_);
      // A message that was never taken: no read is in flight, and the hold
      // keeps OnDone back; a last read fails now and lets it go.
      release = has_message_;
      has_message_ = false;
    }
    if (release) this->StartRead(&incoming_);
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
  }

  // A refused stream's status comes as headers too (trailers-only), so only
  // the server's own mark (or a first message) says it was accepted.
  void OnReadInitialMetadataDone(bool ok) override {
    const bool marked = ok && context_->GetServerInitialMetadata().count(accepted_header_) > 0;
    absl::MutexLock lock(&mu_);
    accepted_ = accepted_ || marked;
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      this->RemoveHold();  // the stream is over: OnDone follows
      return;
    }
    absl::MutexLock lock(&mu_);
    has_message_ = true;
    accepted_ = true;
  }

  void OnDone(const grpc::Status& status) override {
    absl::MutexLock lock(&mu_);
    status_ = status;
    done_ = true;
  }

 private:
  const std::unique_ptr<grpc::ClientContext> context_;
  const std::string accepted_header_;
  absl::Mutex mu_;
  // Written by the read in flight; read by Wait only once has_message_.
  Response incoming_;
  bool accepted_ ABSL_GUARDED_BY(mu_) = false;
  bool has_message_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hive::server

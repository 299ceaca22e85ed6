// server/stream_write_reactor.h
// What every server-streaming call of the bridge (SubscribeEvents,
// WatchDevices, WatchJob) does alike, so each says only what it writes:
//
//   - one write in flight at a time, from one response slot the base owns:
//     a slow reader holds back only its own stream, and nothing is queued
//     per stream but what the call's own source (a hub subscription, the job
//     store) already bounds;
//   - Finish exactly once, under the one mutex that guards the call's state;
//   - a write that fails (the reader went away) ends the stream OK, a cancel
//     ends it CANCELLED;
//   - the reactor deletes itself when gRPC is done with it, after the call
//     has stopped whatever may still wake it.
//
//   class WatchThingReactor final : public StreamWriteReactor<WatchThingResponse> {
//     WatchThingReactor(...) {
//       absl::MutexLock lock(&mu_);
//       subscription_ = source.Subscribe([this] { WriteNext(); });  // wakes from any thread
//       WriteNextLocked();
//     }
//     bool NextLocked(WatchThingResponse& response) override;  // fill it, or false: nothing yet
//     void OnStreamDone() override;                            // unsubscribe; no wake after it
//   };
//
// A call ends the stream itself with FinishLocked (an error, its last
// message, the bridge draining). RejectStream is a stream refused before it
// began.
#pragma once

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"

namespace hive::server {

// Initial metadata an accepted stream sends at once, before any message: it
// tells a caller the stream was accepted (a refused one ends with its status
// and no such header), so the HTTP gateway can answer a refusal with its own
// HTTP status instead of 200 and an error event, and answers 200 at once
// for a stream with nothing to send yet.
inline constexpr char kStreamAcceptedMetadata[] = "hive-stream-accepted";

template <typename Response>
class StreamWriteReactor : public grpc::ServerWriteReactor<Response> {
 public:
  void OnWriteDone(bool ok) final {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    wrote_ = wrote_ || ok;
    WriteDoneLocked(ok, response_);
    if (!ok) return FinishLocked(grpc::Status::OK);  // the reader went away
    WriteNextLocked();
  }

  void OnCancel() final {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() final {
    OnStreamDone();
    delete this;
  }

 protected:
  // Writes the next response, unless one is in flight (its OnWriteDone
  // writes the next) or the stream has finished. A wake-up from any thread.
  void WriteNext() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    WriteNextLocked();
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_) return;
    more_follows_ = false;
    if (!NextLocked(response_)) return;
    writing_ = true;
    // gRPC holds a write with the buffer hint back until a write without it
    // (or the end of the stream, or 64 KiB held) and completes it at once: a
    // burst goes out in one socket write instead of one per message. Never
    // on the first write: it may carry the initial metadata in its batch,
    // which chttp2 then holds back too, and the batch completes only once
    // the headers are written, so OnWriteDone, and the flushing write after
    // it, would never come.
    const bool hint = more_follows_ && wrote_;
    this->StartWrite(&response_, hint ? grpc::WriteOptions().set_buffer_hint() : grpc::WriteOptions());
  }

  // Called by NextLocked: another message is ready to follow the one it
  // fills, so this write may wait in gRPC's buffer for it. The call must
  // then write again or end the stream (which flushes), never stop.
  void MoreFollowsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { more_follows_ = true; }

  // Ends the stream with `status`; a second end is ignored.
  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    this->Finish(status);
  }

  // The response slot, for a call that must take something back out of it
  // outside NextLocked and WriteDoneLocked.
  Response& response() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return response_; }

  // Guards the base's state and the call's own.
  absl::Mutex mu_;

 private:
  // Puts the next message into `response` (it still holds the last one; the
  // call clears or overwrites it) and returns true to write it, or returns
  // false when there is nothing to write yet (a wake-up comes when there is)
  // or after ending the stream with FinishLocked.
  virtual bool NextLocked(Response& response) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;

  // The write of `response` is done (`ok`: delivered to the transport), before
  // the stream ends (not ok) or the next write starts.
  virtual void WriteDoneLocked(bool /*ok*/, Response& /*response*/) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {}

  // gRPC is done with the stream: stop whatever may still wake the reactor,
  // which is deleted when this returns. Called without mu_, so a wake-up in
  // flight can end before an unsubscribe that waits for it returns.
  virtual void OnStreamDone() ABSL_LOCKS_EXCLUDED(mu_) {}

  Response response_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool more_follows_ ABSL_GUARDED_BY(mu_) = false;
  // A write has completed: the initial metadata is out.
  bool wrote_ ABSL_GUARDED_BY(mu_) = false;
};

// A stream that ends at once with `status`, writing nothing.
template <typename Response>
grpc::ServerWriteReactor<Response>* RejectStream(const grpc::Status& status) {
  class Rejected final : public grpc::ServerWriteReactor<Response> {
   public:
    explicit Rejected(const grpc::Status& status) { this->Finish(status); }
    void OnDone() override { delete this; }
  };
  return new Rejected(status);
}

}  // namespace hive::server

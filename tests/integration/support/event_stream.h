// tests/integration/support/event_stream.h
// One SubscribeEvents call, read by a thread of its own into a queue, so a
// test waits for the events it expects with a timeout:
//
//   EventStream stream(*stub, request);
//   std::optional<DeviceEvent> event = stream.Next(absl::Seconds(2));
//   std::optional<DeviceEvent> state = stream.NextMatching(OfType("device-state"), absl::Seconds(2));
//
// A stream can stop reading (Pause) to play a stalled subscriber: its reader
// takes at most the message it is already waiting for, then leaves the rest
// to pile up in gRPC's flow-control window and the bridge's queue.
//
// A stream made with OnGap::kResume does what a slow-subscriber gap asks of
// a client: it drops that call and subscribes again after the last event it
// read, so the hub's history fills the hole (the gap itself is still queued,
// and resumes() counts them). Tests that count every event of a burst use it.
//
// The destructor cancels the call and joins the reader. Thread-safe.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "hive/bridge/v1/device_bridge.grpc.pb.h"

namespace hive::integration {

using hive::bridge::v1::DeviceEvent;
using hive::bridge::v1::SubscribeEventsRequest;
using EventPredicate = std::function<bool(const DeviceEvent&)>;

class EventStream {
 public:
  enum class OnGap { kKeepReading, kResume };

  EventStream(hive::bridge::v1::DeviceBridge::Stub& stub, SubscribeEventsRequest request,
              OnGap on_gap = OnGap::kKeepReading);
  ~EventStream();
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  // The next event, waiting up to `timeout`.
  std::optional<DeviceEvent> Next(absl::Duration timeout);
  // The next event `predicate` accepts; the events before it are dropped.
  std::optional<DeviceEvent> NextMatching(const EventPredicate& predicate, absl::Duration timeout);

  // The call's status once the server ended the stream, or nullopt while it
  // is still open after `timeout`. Events still queued stay readable.
  std::optional<grpc::Status> WaitFinished(absl::Duration timeout);

  void Pause();
  void Resume();

  // How often a slow-subscriber gap made an OnGap::kResume stream subscribe again.
  int resumes() const;

 private:
  void ReadAll(hive::bridge::v1::DeviceBridge::Stub& stub, SubscribeEventsRequest request);
  // Reads one call until it ends (true) or asks to be resumed (false).
  bool ReadCall(hive::bridge::v1::DeviceBridge::Stub& stub, SubscribeEventsRequest& request);

  const OnGap on_gap_;
  mutable absl::Mutex mu_;
  // The current call's; replaced only by the reader, cancelled by the destructor.
  std::unique_ptr<grpc::ClientContext> context_ ABSL_GUARDED_BY(mu_);
  int resumes_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<DeviceEvent> events_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> finished_ ABSL_GUARDED_BY(mu_);
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread reader_;
};

// Predicates for NextMatching.
EventPredicate OfType(absl::string_view type);
EventPredicate FromDevice(absl::string_view device_id, absl::string_view type = "");
// A device event carrying `"marker": marker` (kept in `extra`).
EventPredicate WithMarker(absl::string_view marker);

// The frame a device sends for such an event: {"type":T,"marker":M}.
std::string MarkedEvent(absl::string_view type, absl::string_view marker);

// The `marker` string of an event's extra fields; empty when it has none.
std::string MarkerOf(const DeviceEvent& event);

}  // namespace hive::integration

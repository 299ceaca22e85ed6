// clients/loadgen/event_subscribers.h
// The fan-out load's receivers: SubscribeEvents streams (callback API, one
// reactor each, spread over the channels) filtered to the emitters' devices
// and the stamped event type. Each event read is handed to `on_event` on a
// gRPC thread, then the next read starts; Gap events are counted, never
// handed on.
//
//   EventSubscribers subscribers(channels, request, [&](const EventStamp& s) { ... });
//   subscribers.Start(10);
//   ...
//   subscribers.Stop();   // cancels the streams and waits for them to end
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "clients/loadgen/event_stamp.h"
#include "grpcpp/channel.h"
#include "hive/bridge/v1/device_bridge.grpc.pb.h"

namespace hive::loadgen {

class EventSubscribers {
 public:
  using OnEvent = std::function<void(const EventStamp& stamp)>;

  EventSubscribers(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                   hive::bridge::v1::SubscribeEventsRequest request, OnEvent on_event);
  ~EventSubscribers();

  void Start(int count);
  void Stop();

  uint64_t gaps() const { return gaps_.load(std::memory_order_relaxed); }
  uint64_t unstamped() const { return unstamped_.load(std::memory_order_relaxed); }
  // Streams that ended before Stop(), with the first one's status.
  int ended_early() const;
  std::string first_error() const;

 private:
  class Reader;
  friend class Reader;

  void OnReaderDone(const grpc::Status& status);

  std::vector<std::unique_ptr<hive::bridge::v1::DeviceBridge::Stub>> stubs_;
  const hive::bridge::v1::SubscribeEventsRequest request_;
  const OnEvent on_event_;
  std::atomic<uint64_t> gaps_{0};
  std::atomic<uint64_t> unstamped_{0};
  std::vector<Reader*> readers_;  // owned; deleted in Stop() once every one is done

  mutable absl::Mutex mu_;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int ended_early_ ABSL_GUARDED_BY(mu_) = 0;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hive::loadgen

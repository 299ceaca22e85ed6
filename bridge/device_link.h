// bridge/device_link.h
// One connected, authenticated device as the rest of the bridge sees it: who
// it is and a thread-safe way to send it frames. The session registry holds
// links; the gRPC service sends through them without knowing about sockets.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "bridge/codec/dialect.h"
#include "bridge/request_correlator.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive {

class DeviceLink {
 public:
  virtual ~DeviceLink() = default;

  virtual const std::string& device_id() const = 0;
  virtual const std::string& account_id() const = 0;
  virtual codec::Dialect dialect() const = 0;

  // A snapshot of the device for ListDevices/GetDevice. Thread-safe.
  virtual hive::bridge::v1::Device Describe() const = 0;

  // Queues the frame of request `request_id`, which the correlator told
  // `sender` to send. Thread-safe and never blocks: UNAVAILABLE once the link
  // is closing, RESOURCE_EXHAUSTED when the device's send queue is full (the
  // caller then fails the request with RequestCorrelator::Fail). Once queued,
  // the link answers for it: it calls RequestCorrelator::MarkSent with its
  // connection when it writes the frame, or Fail when it closed first, so the
  // correlator knows exactly which requests a closing connection carried.
  virtual absl::Status SendRequest(std::string frame, std::string request_id, RequestCorrelator::WaiterId sender) = 0;

  // Closes the connection with a WebSocket close code. Thread-safe.
  virtual void Close(int code, std::string reason) = 0;
};

}  // namespace hive

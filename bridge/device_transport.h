// bridge/device_transport.h
// What a device session needs from its connection: the WebSocket endpoint
// implements it over websocketpp, tests with a fake. Every method but Post
// runs on the session's own I/O thread, so a session needs no locks for its
// protocol state.
#pragma once

#include <cstddef>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace hive {

class DeviceTransport {
 public:
  virtual ~DeviceTransport() = default;

  virtual void SendText(std::string frame) = 0;
  virtual void Ping() = 0;
  // Starts the closing handshake with `code` and `reason`. Returns whether
  // this close frame went out: false when the connection was closing already
  // (the peer's close, or the WebSocket library's own, came first).
  virtual bool Close(int code, absl::string_view reason) = 0;
  // Runs `task` on the session's thread after `delay`.
  virtual void RunAfter(absl::Duration delay, absl::AnyInvocable<void()> task) = 0;
  // Runs `task` on the session's thread soon. The only method callable from any thread.
  virtual void Post(absl::AnyInvocable<void()> task) = 0;
  // "ip:port" of the peer.
  virtual std::string remote_address() const = 0;
  // Bytes SendText took that are not yet on their way to the peer (for
  // websocketpp: queued behind the write in progress). Grows while the peer
  // does not read, which is what the session's --device-send-buffer watches.
  virtual size_t buffered_bytes() const = 0;
};

}  // namespace hive

// tests/integration/support/raw_connection.h
// A plain blocking TCP connection to the bridge's WebSocket port, for what a
// WebSocket library will not do: HTTP probes on a connection opened earlier
// (to ask /readyz while the bridge drains and accepts nothing new) and frames
// a well-behaved client never sends (a text frame with invalid UTF-8).
//
//   absl::StatusOr<RawConnection> http = RawConnection::Open(bridge.ws_port());
//   int status = http->HttpGetStatus("/readyz", absl::Seconds(2));   // 200, 503, or -1
//   (one request per connection: the bridge closes it after the response)
//
//   absl::StatusOr<RawConnection> slow = RawConnection::Open(bridge.ws_port());   // slowloris:
//   slow->Write("GET /v1/devices HTTP/1.1\r\n");                                  // never finishes
//   bool dropped = slow->WaitClosedByPeer(absl::Seconds(2));
//
//   absl::StatusOr<RawConnection> ws = RawConnection::OpenWebSocket(bridge.ws_port(), token);
//   ws->SendFrame(kTextOpcode, "\xff");
//   std::optional<RawConnection::Frame> close = ws->NextFrameOfOpcode(kCloseOpcode, absl::Seconds(2));
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace hive::integration {

inline constexpr uint8_t kTextOpcode = 0x1;
inline constexpr uint8_t kCloseOpcode = 0x8;

class RawConnection {
 public:
  struct Frame {
    uint8_t opcode = 0;
    std::string payload;
    // For a close frame: its status code (1005 when it carries none) and reason.
    int close_code() const;
    std::string close_reason() const;
  };

  // Connects to 127.0.0.1:`port`.
  static absl::StatusOr<RawConnection> Open(int port);
  // Connects, upgrades to a WebSocket at /v1/devices with `token` in the
  // Authorization header, and reads the bridge's `authenticated` frame.
  static absl::StatusOr<RawConnection> OpenWebSocket(int port, absl::string_view token);

  RawConnection(RawConnection&& other) noexcept;
  RawConnection& operator=(RawConnection&&) = delete;
  RawConnection(const RawConnection&) = delete;
  ~RawConnection();

  absl::Status Write(absl::string_view bytes);

  struct HttpResponse {
    int status = -1;
    std::string body;
  };
  // Sends `GET path HTTP/1.1` (Connection: close) and reads the response to
  // the end; nullopt when none arrives within `timeout`.
  std::optional<HttpResponse> HttpGet(absl::string_view path, absl::Duration timeout);
  // HttpGet's status code, or -1.
  int HttpGetStatus(absl::string_view path, absl::Duration timeout);

  // Sends one masked, final frame.
  absl::Status SendFrame(uint8_t opcode, absl::string_view payload);
  // The next frame from the bridge, or nullopt at EOF or timeout.
  std::optional<Frame> NextFrame(absl::Duration timeout);
  // The next frame with `opcode`, skipping others.
  std::optional<Frame> NextFrameOfOpcode(uint8_t opcode, absl::Duration timeout);

  // Ends the connection with a TCP reset (SO_LINGER 0), as a device whose
  // stack crashes or whose NAT entry vanishes does: no close frame, no FIN.
  void Reset();

  // Waits up to `timeout` for the bridge to end the connection (EOF or
  // reset), keeping whatever it sends before in the buffer; false when the
  // connection is still open then.
  bool WaitClosedByPeer(absl::Duration timeout);

 private:
  explicit RawConnection(int fd) : fd_(fd) {}
  // Reads into buffer_ until it holds at least `size` bytes.
  bool Fill(size_t size, absl::Time deadline);
  // What one wait for the socket brought: bytes (appended to buffer_), the
  // peer's close (or a reset), or nothing before the deadline.
  enum class Read { kData, kClosed, kTimedOut };
  Read ReadOnce(absl::Time deadline);

  int fd_ = -1;
  std::string buffer_;
};

}  // namespace hive::integration

// tests/integration/support/websocket_link.h
// The WebSocket under a TestDevice: one websocketpp client on standalone Asio
// with an I/O thread of its own, speaking ws:// or, for a wss:// URL, TLS
// that verifies the bridge's certificate against a test CA and checks that
// it names the URL's host (localhost or 127.0.0.1). The device logic stays in
// TestDevice; a link only moves frames and reports what happened to them.
//
//   std::unique_ptr<WebSocketLink> link = WebSocketLink::Make(
//       {.url = "wss://localhost:8443/v1/devices", .ca_file = certs.path("ca.pem")}, events);
//   link->Open({{"Authorization", "Bearer ..."}}, "hive.v1");   // events.opened or events.closed follow
//   link->Send("{...}", false);
//
// The events run on the link's I/O thread. The destructor stops that thread
// without a closing handshake. Send, Close and Abort may be called from any
// thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace hive::integration {

struct LinkOptions {
  // ws://... or wss://...
  std::string url;
  // For wss://: the PEM CA the bridge's certificate must chain to; empty
  // trusts only the system's CAs (which never signed a test certificate).
  std::string ca_file;
  // False: pings go unanswered (no automatic pong).
  bool answer_pings = true;
};

// What a link reports, each on its I/O thread.
struct LinkEvents {
  // The WebSocket opened; the link's own TCP port.
  std::function<void(int local_port)> opened;
  // It closed (the bridge's close code and reason), or failed to open
  // (1006 and why: a refused TCP connection, a failed TLS handshake, an
  // HTTP status instead of the upgrade).
  std::function<void(int code, std::string reason)> closed;
  std::function<void(std::string text)> text;
};

class WebSocketLink {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  // A link for `options.url`'s scheme; not open yet.
  static std::unique_ptr<WebSocketLink> Make(LinkOptions options, LinkEvents events);
  virtual ~WebSocketLink() = default;

  // Starts the opening handshake with `headers` and `subprotocol`; the outcome
  // arrives as an event. Fails at once only for a URL it cannot use.
  virtual absl::Status Open(const Headers& headers, const std::string& subprotocol) = 0;
  virtual void Send(absl::string_view payload, bool binary) = 0;
  // Starts the closing handshake.
  virtual void Close(int code, absl::string_view reason) = 0;
  // Drops the TCP connection without a closing handshake.
  virtual void Abort() = 0;
  // Runs `task` on the I/O thread after `delay`.
  virtual void RunAfter(absl::Duration delay, std::function<void()> task) = 0;
};

}  // namespace hive::integration

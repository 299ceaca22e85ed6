// tests/integration/support/test_device.h
// A device for integration tests: one real WebSocket client (websocketpp on
// standalone Asio, its own I/O thread; see websocket_link.h) that
// authenticates the way the test says, records every frame the bridge sends
// it, and optionally answers device-requests by itself. A wss:// URL makes it
// speak TLS and verify the bridge's certificate against `ca_file`.
//
//   TestDevice device({.url = bridge.ws_url(), .device_id = d, .account_id = a,
//                      .token = bridge.MintToken(d, a), .responder = Responder::AckThenOk()});
//   ASSERT_TRUE(device.ConnectAndAuthenticate().ok());
//   device.Send(R"({"type":"device-state","state":"disk-low"})");
//   std::optional<std::string> error = device.NextOfType("error", absl::Seconds(2));
//   ASSERT_TRUE(device.WaitClosed(absl::Seconds(2)));
//   EXPECT_EQ(device.close_code(), 4401);
//
// Everything received waits in an inbox, in order: NextText() takes the
// oldest, NextOfType() the oldest of one `type` (keeping the others). Every
// wait blocks on a condition variable, bounded by its timeout; nothing polls.
// Thread-safe.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/codec/dialect.h"
#include "tests/integration/support/websocket_link.h"

namespace hive::integration {

// How the device presents its token.
enum class AuthMode {
  kHeader,        // Authorization: Bearer TOKEN on the upgrade request
  kFirstMessage,  // a first text frame "Bearer TOKEN"
  kNone,          // not at all
};

// How a device answers the device-requests it receives by itself.
struct Responder {
  enum class Result { kNone, kOk, kError };

  // Waits this long after the request before it acks.
  absl::Duration ack_delay = absl::ZeroDuration();
  // What follows the ack.
  Result result = Result::kNone;
  // The `result` object of an ok result, as JSON.
  std::string result_json = R"({"done":true})";
  // The `error` of an error result.
  std::string error = "the device refused";
  // Acks in Hivekit's form {"cid": R, "res": "suc"} instead of a device-response.
  bool hivekit_ack = false;

  static Responder Ack() { return {}; }
  static Responder AckAfter(absl::Duration delay) {
    Responder responder;
    responder.ack_delay = delay;
    return responder;
  }
  static Responder HivekitAck() {
    Responder responder;
    responder.hivekit_ack = true;
    return responder;
  }
  static Responder AckThenOk(std::string result_json) {
    Responder responder;
    responder.result = Result::kOk;
    responder.result_json = std::move(result_json);
    return responder;
  }
  static Responder AckThenError(std::string error) {
    Responder responder;
    responder.result = Result::kError;
    responder.error = std::move(error);
    return responder;
  }
};

struct DeviceOptions {
  // ws://... or wss://...
  std::string url;
  // For wss://: the PEM CA the bridge's certificate must chain to (empty:
  // the system's CAs only). (An initializer, so that designated
  // initializers may leave it out.)
  std::string ca_file{};
  std::string device_id;
  std::string account_id;
  std::string token;
  AuthMode auth = AuthMode::kHeader;
  codec::Dialect dialect = codec::Dialect::kStandard;
  // Unset: requests wait for the test's Ack()/Succeed()/Fail().
  std::optional<Responder> responder;
  // False: the device ignores the bridge's pings (no automatic pong).
  bool answer_pings = true;
};

class TestDevice {
 public:
  explicit TestDevice(DeviceOptions options);
  // Closes with 1000 if still open, then stops the I/O thread.
  ~TestDevice();
  TestDevice(const TestDevice&) = delete;
  TestDevice& operator=(const TestDevice&) = delete;

  // Opens the WebSocket (sending the first-message token when so told);
  // blocks until the handshake succeeded or failed. Success means it opened,
  // even if the bridge has closed it again since.
  absl::Status Connect(absl::Duration timeout = absl::Seconds(5));
  // Connect(), then waits for the bridge's `authenticated` reply and
  // returns it.
  absl::StatusOr<std::string> ConnectAndAuthenticate(absl::Duration timeout = absl::Seconds(5));

  void Send(absl::string_view text);
  void SendBinary(absl::string_view bytes);

  // The oldest frame not yet taken, waiting up to `timeout` for one.
  std::optional<std::string> NextText(absl::Duration timeout);
  // The oldest frame whose `type` is `type` (in the device's dialect); the
  // frames before it stay in the inbox.
  std::optional<std::string> NextOfType(absl::string_view type, absl::Duration timeout);

  // Answers a request the way a device does.
  void Ack(absl::string_view request_id);
  void Succeed(absl::string_view request_id, absl::string_view result_json);
  void Fail(absl::string_view request_id, absl::string_view error);

  // Starts the closing handshake with `code`.
  void Close(int code = 1000, absl::string_view reason = "");
  // Drops the TCP connection without a closing handshake, as a device that
  // loses its network does.
  void Abort();
  // True once the connection is closed (or failed to open).
  bool WaitClosed(absl::Duration timeout);
  // The code and reason of the bridge's close frame; 1006 when there was none.
  int close_code() const;
  std::string close_reason() const;
  bool open() const;
  // The device's own TCP port: the bridge sees it as "127.0.0.1:<port>".
  int local_port() const;

  // Device-requests received so far, and their request ids in order.
  int received_requests() const;
  std::vector<std::string> received_request_ids() const;

  const std::string& device_id() const { return options_.device_id; }
  const std::string& account_id() const { return options_.account_id; }
  codec::Dialect dialect() const { return options_.dialect; }
  // Every frame received and how the connection ended, for failure messages.
  std::string Transcript() const;

 private:
  enum class State { kIdle, kConnecting, kOpen, kClosed };

  void OnOpened(int local_port);
  void OnMessage(std::string text);
  void OnDeviceRequest(const std::string& request_id);
  void SendResponse(absl::string_view request_id, Responder::Result result, const Responder& responder);
  void SetClosed(int code, std::string reason);
  absl::string_view WireKey(absl::string_view standard_key) const;

  const DeviceOptions options_;

  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kIdle;
  // Whether the handshake succeeded (the bridge may have closed it since).
  bool opened_ ABSL_GUARDED_BY(mu_) = false;
  int local_port_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<std::string> inbox_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> transcript_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> request_ids_ ABSL_GUARDED_BY(mu_);
  int close_code_ ABSL_GUARDED_BY(mu_) = 0;
  std::string close_reason_ ABSL_GUARDED_BY(mu_);

  // Declared last, so destroyed (its I/O thread stopped) before the members
  // its events touch.
  std::unique_ptr<WebSocketLink> link_;
};

// The `type` of a JSON object frame written with `type_key`; empty when the
// frame is not such an object.
std::string TypeOfFrame(absl::string_view frame, absl::string_view type_key = "type");

// How often the request `id` reached `device`.
int TimesReceived(const TestDevice& device, const std::string& id);

}  // namespace hive::integration

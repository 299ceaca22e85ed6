// bridge/device_session.h
// One device's WebSocket connection, from quarantine to close: the device
// protocol (docs/protocol.md, docs/architecture.md#the-device-session) as a
// state machine over a DeviceTransport, so the same code runs under
// websocketpp and under a fake in tests.
//
//   quarantine ──Bearer token ok──► authenticated ──close──► closed
//        ├──other frame / bad token / auth timeout──► close 4401
//        └──token ok, account at --max-connections-per-account──► close 4403
//   authenticated ──Bearer token of the same device and account──► authenticated
//        ├──token's valid_until (exp + leeway) passes──► close 4401 "token expired"
//        └──refresh with a bad token or another identity──► close 4401
//
// A token refresh ("Bearer TOKEN" while authenticated) is answered with a
// new `authenticated` reply and moves the expiry to the new token's; a
// failed one closes, since a device must not keep a session on a token it
// cannot renew. The code and reason a session reports at close (log line and
// device-disconnected event) are those of the side that closed first: its
// own when it started the close, else what the endpoint saw.
//
// In quarantine nothing is parsed but the bearer credential. Once
// authenticated, frames are decoded into events (stamped with the
// authenticated identity, published to the EventSink) and responses (handed
// to the RequestCorrelator). Each event takes a token of the device's bucket
// (SessionLimits::event_rate, event_burst): an event over the rate gets an
// error reply instead of being published. A frame with such an event counts
// as a bad frame, and when bad frames in a row reach max_bad_frames the
// connection closes: 4429 when the last was over the rate, 1008 otherwise.
// Error replies take from the same bucket: a device out of tokens gets the
// first over-rate reply of a run and then none (the frame counts as over the
// rate), so provoking replies is no way around the rate. Frames to the device
// (Send, error replies) are bounded in bytes as well as frames: when more than
// send_buffer_bytes wait (posted, or in the transport's buffer) the device is
// not reading, and is closed with 4413.
// With an idle_timeout, a device that sends no frame, ping or pong for that
// long is closed with 4410. The transport's callbacks (Start, OnText, ...)
// are called on the session's I/O thread; the DeviceLink methods from any.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/auth/device_authenticator.h"
#include "bridge/clock.h"
#include "bridge/close_codes.h"
#include "bridge/codec/device_frame.h"
#include "bridge/codec/dialect.h"
#include "bridge/device_counters.h"
#include "bridge/device_link.h"
#include "bridge/device_transport.h"
#include "bridge/event_sink.h"
#include "bridge/limit_counters.h"
#include "bridge/request_correlator.h"
#include "bridge/session_registry.h"
#include "bridge/token_bucket.h"

namespace hive {

struct SessionLimits {
  absl::Duration auth_timeout = absl::Seconds(10);
  absl::Duration ping_interval = absl::Seconds(30);
  absl::Duration pong_timeout = absl::Seconds(10);
  // No frame, ping or pong for this long closes with 4410; zero: never.
  absl::Duration idle_timeout = absl::ZeroDuration();
  int max_bad_frames = 10;
  size_t send_queue = 256;
  // Bytes waiting to be written to the device (frames posted to its thread,
  // plus the transport's buffered_bytes) above which it is closed 4413.
  size_t send_buffer_bytes = 8 << 20;
  // Largest event, as its decoded form's serialized (protobuf) size.
  size_t max_event_bytes = 512 << 10;
  // Devices of one account registered at once; 0: no limit.
  size_t max_connections_per_account = 0;
  // Events per second a device may send on average, and at once above that;
  // event_rate 0: no limit.
  double event_rate = 100;
  double event_burst = 1000;
  codec::FrameLimits frames;
};

// What all sessions share; outlives them.
struct SessionServices {
  const Clock& clock;
  const DeviceAuthenticator& authenticator;
  SessionRegistry& registry;
  RequestCorrelator& correlator;
  EventSink& events;
  std::string replica_id;
  // Where refusals are counted; may be null.
  LimitCounters* counters = nullptr;
  // Where closes, authentication failures, frames and events are counted
  // (/metrics); may be null.
  DeviceCounters* device_counters = nullptr;
};

class DeviceSession final : public DeviceLink, public std::enable_shared_from_this<DeviceSession> {
 public:
  DeviceSession(SessionServices& services, const SessionLimits& limits, std::unique_ptr<DeviceTransport> transport,
                codec::Dialect dialect);

  // Transport callbacks, on the session's thread. `header_token` is the
  // bearer token of the upgrade request's Authorization header, if any.
  void Start(std::optional<std::string> header_token);
  void OnText(absl::string_view frame);
  void OnBinary();
  void OnPing();
  void OnPong();
  // The connection is gone. `code` and `reason` are the ones of the side
  // that closed first as the transport saw it (`by`); a close this session
  // sent itself takes precedence, as the transport cannot always tell
  // (websocketpp forgets the code it sent when the device never answers).
  void OnClosed(int code, absl::string_view reason, ClosedBy by);

  bool authenticated() const { return state_ == State::kAuthenticated; }

  // DeviceLink.
  const std::string& device_id() const override { return device_id_; }
  const std::string& account_id() const override { return account_id_; }
  codec::Dialect dialect() const override { return dialect_; }
  hive::bridge::v1::Device Describe() const override;
  absl::Status SendRequest(std::string frame, std::string request_id, RequestCorrelator::WaiterId sender) override;

  // Names this connection to the correlator; unique in the process.
  RequestCorrelator::ConnectionId connection_id() const { return connection_id_; }
  void Close(int code, std::string reason) override;

 private:
  enum class State { kQuarantine, kAuthenticated, kClosed };
  enum class ItemOutcome { kHandled, kInvalid, kOverRate };

  void Authenticate(absl::string_view token);
  void Admit(DeviceIdentity identity);
  // "Bearer TOKEN" while authenticated: a new token for the same identity.
  void Refresh(absl::string_view token);
  // Makes sure a timer looks at valid_until_ no later than it; the look
  // closes with 4401 once it has passed, or waits again if a refresh moved it.
  void ScheduleExpiryCheck();
  void HandleFrame(absl::string_view frame);
  ItemOutcome HandleItem(codec::FrameItem& item, absl::Time now);
  void HandleEvent(hive::bridge::v1::DeviceEvent event);
  bool HandleResponse(codec::DeviceResponse response);
  // On the session's thread: writes a queued request, telling the
  // correlator it was written on this connection, or, when the connection
  // closed first, that it never was.
  void WriteRequest(std::string frame, const std::string& request_id, RequestCorrelator::WaiterId sender);
  // Sends an error reply if the event bucket allows it; false when withheld
  // (the frame then counts as over the rate).
  bool ReplyError(absl::string_view error, absl::string_view cid);
  // Takes a token from the event bucket at `now`, if events are rate-limited;
  // events and error replies share it.
  bool TakeToken(absl::Time now);
  // On the session's thread, after a write (of a frame of `written_bytes`
  // that Send queued, 0 for others) or a refused Send: records the
  // transport's buffered bytes for Send, and closes 4413 when the bytes
  // waiting, with `refused_bytes` more, exceed the budget.
  void CheckSendBuffer(size_t written_bytes = 0, size_t refused_bytes = 0);
  // Closes 4413 naming `waiting` bytes; counted.
  void CloseNotReading(size_t waiting);
  void CloseOnThread(int code, absl::string_view reason);
  void SchedulePing();
  // Closes with 4410 once the device has been silent for idle_timeout,
  // looking again after `delay`.
  void ScheduleIdleCheck(absl::Duration delay);
  // The device sent something (a frame, a ping or a pong).
  void Heard();
  void PublishBridgeEvent(absl::string_view type, hive::bridge::v1::DeviceEvent event);
  // Counts the event by type, then hands it to the bus.
  void Publish(hive::bridge::v1::DeviceEvent event);
  // Counts the frame, then queues it on the transport.
  void SendText(std::string frame);

  SessionServices& services_;
  // services_.device_counters, or counters no one reads when that is null.
  DeviceCounters& counts_;
  const SessionLimits& limits_;
  const std::unique_ptr<DeviceTransport> transport_;
  const codec::Dialect dialect_;
  const std::string address_;
  const RequestCorrelator::ConnectionId connection_id_;

  // Session-thread state.
  State state_ = State::kQuarantine;
  int bad_frames_in_a_row_ = 0;
  uint64_t pings_sent_ = 0;
  bool awaiting_pong_ = false;
  bool close_started_ = false;
  // When the device last sent anything; kept only with an idle_timeout.
  absl::Time last_heard_;
  // Set at Admit when events are rate-limited.
  std::optional<TokenBucket> event_bucket_;
  // When the token (the last one refreshed) stops being valid.
  absl::Time valid_until_ = absl::InfiniteFuture();
  // When the pending expiry check runs, if one is pending; a check whose
  // generation is not the current one does nothing. A refresh to a later
  // expiry leaves the pending check to wait again, so refreshes never pile
  // up timers; only an earlier expiry starts a new one.
  std::optional<absl::Time> expiry_check_at_;
  uint64_t expiry_generation_ = 0;
  // The close this session sent, if the transport sent it.
  std::optional<std::pair<int, std::string>> sent_close_;
  // An error reply went out without a token since the last token was taken:
  // the device knows it is over the rate, and further replies are withheld.
  bool sent_untokened_reply_ = false;

  // Set once at Admit, before the link is published to other threads.
  std::string device_id_;
  std::string account_id_;

  std::atomic<bool> closing_{false};
  std::atomic<size_t> queued_frames_{0};
  // Bytes of the frames posted by Send and not yet handed to the transport.
  std::atomic<size_t> queued_bytes_{0};
  // The transport's buffered_bytes after its last write (read on its thread).
  std::atomic<size_t> buffered_bytes_{0};

  mutable absl::Mutex mu_;
  hive::bridge::v1::Device description_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hive

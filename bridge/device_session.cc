#include "bridge/device_session.h"

#include <algorithm>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "bridge/auth/auth_failure.h"
#include "bridge/close_codes.h"
#include "bridge/codec/bearer_credential.h"
#include "bridge/codec/bridge_reply.h"
#include "bridge/codec/device_event.h"
#include "bridge/log.h"
#include "bridge/log_rate_limiter.h"
#include "google/protobuf/util/time_util.h"

namespace hive {
namespace {

// Where a session without SessionServices::device_counters counts: never read.
DeviceCounters& UnreadCounters() {
  static auto* const unread = new DeviceCounters;
  return *unread;
}

using hive::bridge::v1::DeviceEvent;

RequestCorrelator::ConnectionId NextConnectionId() {
  static std::atomic<RequestCorrelator::ConnectionId> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(time));
}

}  // namespace

DeviceSession::DeviceSession(SessionServices& services, const SessionLimits& limits,
                             std::unique_ptr<DeviceTransport> transport, codec::Dialect dialect)
    : services_(services),
      counts_(services.device_counters != nullptr ? *services.device_counters : UnreadCounters()),
      limits_(limits),
      transport_(std::move(transport)),
      dialect_(dialect),
      address_(transport_->remote_address()),
      connection_id_(NextConnectionId()) {}

void DeviceSession::Start(std::optional<std::string> header_token) {
  if (header_token.has_value()) {
    Authenticate(*header_token);
    return;
  }
  transport_->RunAfter(limits_.auth_timeout, [weak = weak_from_this()] {
    auto self = weak.lock();
    if (self != nullptr && self->state_ == State::kQuarantine && !self->close_started_) {
      CountIn(self->services_.counters, Limit::kAuthTimeout);
      self->counts_.AuthFailed(AuthFailure::kMissing);
      self->CloseOnThread(close_code::kUnauthorized, "no bearer token within the auth timeout");
    }
  });
}

void DeviceSession::OnText(absl::string_view frame) {
  counts_.Received(frame.size());
  if (close_started_) return;
  switch (state_) {
    case State::kQuarantine:
      if (std::optional<absl::string_view> token = codec::ParseBearerCredential(frame)) {
        Authenticate(*token);
      } else {
        counts_.AuthFailed(AuthFailure::kMissing);
        CloseOnThread(close_code::kUnauthorized, "authenticate first: the first message must be \"Bearer TOKEN\"");
      }
      return;
    case State::kAuthenticated:
      Heard();
      if (std::optional<absl::string_view> token = codec::ParseBearerCredential(frame)) {
        Refresh(*token);
      } else {
        HandleFrame(frame);
      }
      return;
    case State::kClosed:
      return;
  }
}

void DeviceSession::OnBinary() {
  if (state_ == State::kClosed) return;
  CloseOnThread(close_code::kUnsupportedData, "binary frames are not supported; send JSON text frames");
}

void DeviceSession::OnPing() {
  if (state_ == State::kAuthenticated) Heard();
}

void DeviceSession::OnPong() {
  if (state_ != State::kAuthenticated) return;
  Heard();
  awaiting_pong_ = false;
  const absl::Time now = services_.clock.Now();
  {
    absl::MutexLock lock(&mu_);
    *description_.mutable_last_alive_at() = ToTimestamp(now);
  }
  DeviceEvent alive;
  alive.mutable_alive()->set_address(address_);
  PublishBridgeEvent("device-alive", std::move(alive));
}

void DeviceSession::OnClosed(int code, absl::string_view reason, ClosedBy by) {
  const State was = std::exchange(state_, State::kClosed);
  closing_ = true;
  if (sent_close_.has_value()) {
    code = sent_close_->first;
    reason = sent_close_->second;
    by = ClosedBy::kBridge;
  }
  // Every connection's end, authenticated or not: a fleet refused at
  // authentication shows as 4401 closes.
  counts_.Closed(code, by);
  if (was != State::kAuthenticated) return;
  counts_.Disconnected(dialect_);
  services_.registry.Unregister(device_id_, this);
  // Also when a newer connection replaced this one: what this one wrote and
  // the device has not answered is now "delivered, outcome unknown". What it
  // queued but never wrote, WriteRequest fails (the state is kClosed now).
  services_.correlator.FailAllFor(device_id_, connection_id_, absl::StrCat("close code ", code));
  Log(LogLevel::kInfo, "device_disconnected",
      {{"device", device_id_},
       {"account", account_id_},
       {"code", code},
       {"reason", reason},
       {"closed_by", ClosedByName(by)}});
  DeviceEvent disconnected;
  disconnected.mutable_disconnected()->set_close_code(code);
  disconnected.mutable_disconnected()->set_reason(std::string(reason));
  PublishBridgeEvent("device-disconnected", std::move(disconnected));
}

hive::bridge::v1::Device DeviceSession::Describe() const {
  absl::MutexLock lock(&mu_);
  return description_;
}

absl::Status DeviceSession::SendRequest(std::string frame, std::string request_id, RequestCorrelator::WaiterId sender) {
  if (closing_) return absl::UnavailableError("device disconnected");
  const size_t bytes = frame.size();
  if (bytes > limits_.send_buffer_bytes) {
    // The frame's fault, not the device's: refused, the device stays.
    CountIn(services_.counters, Limit::kDeviceSendBuffer);
    return absl::ResourceExhaustedError(absl::StrCat("frame of ", bytes, " bytes is larger than --device-send-buffer (",
                                                     limits_.send_buffer_bytes, " bytes)"));
  }
  const size_t waiting = queued_bytes_.fetch_add(bytes) + buffered_bytes_.load();
  if (waiting + bytes > limits_.send_buffer_bytes) {
    queued_bytes_ -= bytes;
    CountIn(services_.counters, Limit::kDeviceSendBuffer);
    // The transport's figure is the one seen after the last write: the device
    // may have read since. Its thread looks again, and closes it only if the
    // frame still would not fit: a device this far behind is not reading, and
    // waiting longer would only hold more memory.
    transport_->Post([self = shared_from_this(), bytes] { self->CheckSendBuffer(0, bytes); });
    return absl::ResourceExhaustedError(
        absl::StrCat(waiting, " bytes already waiting to be sent to the device (--device-send-buffer ",
                     limits_.send_buffer_bytes, "); retry once it reads them"));
  }
  if (queued_frames_.fetch_add(1) >= limits_.send_queue) {
    --queued_frames_;
    queued_bytes_ -= bytes;
    CountIn(services_.counters, Limit::kDeviceSendQueue);
    return absl::ResourceExhaustedError(
        absl::StrCat("device send queue full (", limits_.send_queue, " frames waiting)"));
  }
  transport_->Post(
      [self = shared_from_this(), frame = std::move(frame), request_id = std::move(request_id), sender]() mutable {
        --self->queued_frames_;
        const size_t bytes = frame.size();
        self->WriteRequest(std::move(frame), request_id, sender);
        self->CheckSendBuffer(bytes);
      });
  return absl::OkStatus();
}

void DeviceSession::WriteRequest(std::string frame, const std::string& request_id, RequestCorrelator::WaiterId sender) {
  // Both this decision and OnClosed run on this thread, so "written" is
  // exact: what is marked here, OnClosed finds; what is failed here was
  // certainly never on the wire, and a retry may send it.
  if (state_ != State::kAuthenticated || close_started_) {
    services_.correlator.Fail(
        request_id, sender,
        absl::UnavailableError("device disconnected before the request was written; a retry sends it"));
    return;
  }
  services_.correlator.MarkSent(request_id, sender, connection_id_);
  SendText(std::move(frame));
}

void DeviceSession::CheckSendBuffer(size_t written_bytes, size_t refused_bytes) {
  // The transport's figure first, then the written frame leaves the queued
  // bytes: a Send in between counts the frame twice rather than not at all.
  buffered_bytes_ = transport_->buffered_bytes();
  queued_bytes_ -= written_bytes;
  const size_t waiting = queued_bytes_.load() + buffered_bytes_.load() + refused_bytes;
  if (waiting > limits_.send_buffer_bytes) CloseNotReading(waiting);
}

void DeviceSession::CloseNotReading(size_t waiting) {
  if (state_ != State::kAuthenticated || close_started_) return;
  CountIn(services_.counters, Limit::kDeviceSendBuffer);
  Log(LogLevel::kInfo, "device_not_reading",
      {{"device", device_id_}, {"account", account_id_}, {"bytes_waiting", waiting}});
  CloseOnThread(close_code::kNotReading, absl::StrCat(waiting, " bytes to send (--device-send-buffer ",
                                                      limits_.send_buffer_bytes, "); the device is not reading"));
}

void DeviceSession::Close(int code, std::string reason) {
  // Refuse new frames at once, so nothing more is sent on a link being closed.
  closing_ = true;
  transport_->Post(
      [self = shared_from_this(), code, reason = std::move(reason)] { self->CloseOnThread(code, reason); });
}

void DeviceSession::Authenticate(absl::string_view token) {
  absl::StatusOr<DeviceIdentity> identity = services_.authenticator.Authenticate(token);
  if (!identity.ok()) {
    // Anyone can fail authentication, as often as they like: the log line is
    // rate-limited per IP address (bridge/log_rate_limiter.h).
    static auto* const auth_failure_log = new LogRateLimiter({});
    auth_failure_log->Log(IpOfAddress(address_), services_.clock.Now(), LogLevel::kInfo, "device_auth_failed",
                          {{"address", address_}, {"reason", identity.status().message()}});
    counts_.AuthFailed(AuthFailureOf(identity.status()));
    CloseOnThread(close_code::kUnauthorized, identity.status().message());
    return;
  }
  Admit(*std::move(identity));
}

void DeviceSession::Admit(DeviceIdentity identity) {
  device_id_ = std::move(identity.device_id);
  account_id_ = std::move(identity.account_id);
  valid_until_ = identity.valid_until;
  {
    absl::MutexLock lock(&mu_);
    description_.set_device_id(device_id_);
    description_.set_account_id(account_id_);
    description_.set_address(address_);
    *description_.mutable_connected_at() = ToTimestamp(services_.clock.Now());
    description_.set_protocol(std::string(codec::SubprotocolOf(dialect_)));
    description_.set_replica(services_.replica_id);
  }
  absl::StatusOr<std::shared_ptr<DeviceLink>> registered =
      services_.registry.RegisterWithin(shared_from_this(), limits_.max_connections_per_account);
  if (!registered.ok()) {
    // Never announced: no connected event, and no disconnected one at close.
    CountIn(services_.counters, Limit::kMaxConnectionsPerAccount);
    Log(LogLevel::kInfo, "device_refused",
        {{"device", device_id_},
         {"account", account_id_},
         {"address", address_},
         {"reason", registered.status().message()}});
    CloseOnThread(close_code::kAccountFull, registered.status().message());
    return;
  }
  // Only now: a refused device never counts as authenticated. Tasks other
  // threads post once they find the link run after this, on this thread.
  state_ = State::kAuthenticated;
  counts_.Connected(dialect_);
  if (std::shared_ptr<DeviceLink> replaced = *std::move(registered)) {
    // The old link refuses new requests from now on, still writes what was
    // queued on it before, then closes; its own OnClosed settles what it
    // wrote. Nothing here touches the requests of this new link, which
    // backends may already have found in the registry.
    replaced->Close(close_code::kReplaced, "replaced by a newer connection of the same device");
  }
  // Registered first, so a backend told of the device can reach it at once.
  SendText(codec::EncodeAuthenticatedReply(device_id_, account_id_, dialect_));
  Log(LogLevel::kInfo, "device_connected",
      {{"device", device_id_},
       {"account", account_id_},
       {"address", address_},
       {"protocol", codec::SubprotocolOf(dialect_)}});
  DeviceEvent connected;
  connected.mutable_connected()->set_address(address_);
  connected.mutable_connected()->set_protocol(std::string(codec::SubprotocolOf(dialect_)));
  PublishBridgeEvent("device-connected", std::move(connected));
  SchedulePing();
  ScheduleExpiryCheck();
  if (limits_.event_rate > 0) event_bucket_.emplace(limits_.event_rate, limits_.event_burst, services_.clock.Now());
  if (limits_.idle_timeout > absl::ZeroDuration()) {
    Heard();
    ScheduleIdleCheck(limits_.idle_timeout);
  }
}

void DeviceSession::Refresh(absl::string_view token) {
  absl::StatusOr<DeviceIdentity> identity = services_.authenticator.Authenticate(token);
  std::string why;
  AuthFailure failure = AuthFailure::kClaims;
  if (!identity.ok()) {
    why = std::string(identity.status().message());
    failure = AuthFailureOf(identity.status());
  } else if (identity->device_id != device_id_) {
    why = "the new token is for another device";
  } else if (identity->account_id != account_id_) {
    why = "the new token is for another account";
  }
  if (!why.empty()) {
    counts_.AuthFailed(failure);
    Log(LogLevel::kInfo, "device_token_refresh_failed",
        {{"device", device_id_}, {"account", account_id_}, {"reason", why}});
    CloseOnThread(close_code::kUnauthorized, absl::StrCat("token refresh failed: ", why));
    return;
  }
  valid_until_ = identity->valid_until;
  SendText(codec::EncodeAuthenticatedReply(device_id_, account_id_, dialect_));
  Log(LogLevel::kDebug, "device_token_refreshed",
      {{"device", device_id_},
       {"account", account_id_},
       {"valid_until", absl::FormatTime(absl::RFC3339_sec, valid_until_, absl::UTCTimeZone())}});
  ScheduleExpiryCheck();
}

void DeviceSession::ScheduleExpiryCheck() {
  // The pending check comes no later than the expiry: it looks again then.
  if (expiry_check_at_.has_value() && *expiry_check_at_ <= valid_until_) return;
  const uint64_t generation = ++expiry_generation_;
  expiry_check_at_.reset();
  if (valid_until_ == absl::InfiniteFuture()) return;  // a token without expiry
  expiry_check_at_ = valid_until_;
  const absl::Duration wait = std::max(valid_until_ - services_.clock.Now(), absl::ZeroDuration());
  transport_->RunAfter(wait, [weak = weak_from_this(), generation] {
    auto self = weak.lock();
    if (self == nullptr || self->expiry_generation_ != generation) return;
    self->expiry_check_at_.reset();
    if (self->state_ != State::kAuthenticated || self->close_started_) return;
    // The session's clock decides, not the timer: the timer may run early
    // against it, and a refresh may have moved the expiry since.
    if (self->services_.clock.Now() < self->valid_until_) {
      self->ScheduleExpiryCheck();
      return;
    }
    Log(LogLevel::kInfo, "device_token_expired",
        {{"device", self->device_id_},
         {"account", self->account_id_},
         {"valid_until", absl::FormatTime(absl::RFC3339_sec, self->valid_until_, absl::UTCTimeZone())}});
    self->CloseOnThread(close_code::kUnauthorized, "token expired");
  });
}

void DeviceSession::HandleFrame(absl::string_view frame) {
  absl::StatusOr<std::vector<codec::FrameItem>> items = codec::DecodeDeviceFrame(frame, dialect_, limits_.frames);
  bool all_good = items.ok();
  bool over_rate = false;
  if (!items.ok()) {
    over_rate = !ReplyError(items.status().message(), "");
  } else {
    // One reading of the clock for the whole frame: a batch arrives at once.
    const absl::Time now = event_bucket_.has_value() ? services_.clock.Now() : absl::InfinitePast();
    for (codec::FrameItem& item : *items) {
      const ItemOutcome outcome = HandleItem(item, now);
      all_good &= outcome == ItemOutcome::kHandled;
      over_rate |= outcome == ItemOutcome::kOverRate;
    }
  }
  if (all_good) {
    bad_frames_in_a_row_ = 0;
  } else if (++bad_frames_in_a_row_ >= limits_.max_bad_frames) {
    if (over_rate) {
      CountIn(services_.counters, Limit::kDeviceEventFlood);
      Log(LogLevel::kInfo, "device_flooding",
          {{"device", device_id_}, {"account", account_id_}, {"frames", bad_frames_in_a_row_}});
      CloseOnThread(close_code::kRateLimited,
                    absl::StrCat(bad_frames_in_a_row_, " frames in a row refused, the last over the event rate (",
                                 limits_.event_rate, " events/s, burst ", limits_.event_burst, ")"));
    } else {
      CountIn(services_.counters, Limit::kMaxBadFrames);
      CloseOnThread(close_code::kPolicyViolation, absl::StrCat(bad_frames_in_a_row_, " invalid frames in a row"));
    }
  }
}

DeviceSession::ItemOutcome DeviceSession::HandleItem(codec::FrameItem& item, absl::Time now) {
  // An invalid item whose reply was withheld for the rate counts as over it.
  auto invalid = [this, &item](absl::string_view error) {
    return ReplyError(error, item.cid) ? ItemOutcome::kInvalid : ItemOutcome::kOverRate;
  };
  if (!item.message.ok()) return invalid(item.message.status().message());
  if (auto* event = std::get_if<DeviceEvent>(&*item.message)) {
    if (codec::IsBridgeEventType(event->type())) {
      return invalid(absl::StrCat("type: \"", event->type(), "\" is reserved for the bridge"));
    }
    // Measured on the decoded event, what the hub and every subscriber's
    // queue would hold (before the bridge stamps its identity fields).
    if (const size_t bytes = event->ByteSizeLong(); bytes > limits_.max_event_bytes) {
      CountIn(services_.counters, Limit::kMaxEventBytes);
      return invalid(absl::StrCat("event: ", bytes, " bytes (serialized) is over the size limit, --max-event-bytes ",
                                  limits_.max_event_bytes, "; event dropped"));
    }
    if (!TakeToken(now)) {
      CountIn(services_.counters, Limit::kDeviceEventRate);
      ReplyError(absl::StrCat("rate limit: over ", limits_.event_rate, " events/s (burst ", limits_.event_burst,
                              "); event dropped, send it again later"),
                 item.cid);
      return ItemOutcome::kOverRate;
    }
    HandleEvent(std::move(*event));
    return ItemOutcome::kHandled;
  }
  if (!HandleResponse(std::get<codec::DeviceResponse>(std::move(*item.message)))) {
    return invalid(absl::StrCat("request: no pending request \"", item.cid, "\" for this device"));
  }
  return ItemOutcome::kHandled;
}

void DeviceSession::HandleEvent(DeviceEvent event) {
  // The authenticated identity wins over whatever the device wrote.
  event.set_device_id(device_id_);
  event.set_account_id(account_id_);
  event.set_service(std::string(codec::kDeviceService));
  *event.mutable_received_at() = ToTimestamp(services_.clock.Now());
  Publish(std::move(event));
}

bool DeviceSession::HandleResponse(codec::DeviceResponse response) {
  if (response.status == codec::DeviceResponse::Status::kAck) {
    return services_.correlator.OnAck(device_id_, response.request_id);
  }
  RequestCorrelator::DeviceResult result;
  result.succeeded = response.status == codec::DeviceResponse::Status::kSucceeded;
  result.has_result = response.has_result;
  result.result = std::move(response.result);
  result.exact_numbers = std::move(response.result_exact_numbers);
  result.error = std::move(response.error);
  return services_.correlator.OnResult(device_id_, response.request_id, std::move(result));
}

bool DeviceSession::ReplyError(absl::string_view error, absl::string_view cid) {
  Log(LogLevel::kDebug, "device_frame_rejected", {{"device", device_id_}, {"cid", cid}, {"error", error}});
  // Closing (the rest of a batch after a close): nothing more goes out.
  if (close_started_) return true;
  if (!TakeToken(services_.clock.Now())) {
    // Out of tokens: one reply tells the device why; more would let a device
    // that ignores them make the bridge write without bound.
    if (sent_untokened_reply_) {
      CountIn(services_.counters, Limit::kDeviceEventRate);
      return false;
    }
    sent_untokened_reply_ = true;
  }
  SendText(codec::EncodeErrorReply(error, cid, dialect_));
  CheckSendBuffer();
  return true;
}

bool DeviceSession::TakeToken(absl::Time now) {
  if (!event_bucket_.has_value()) return true;
  if (!event_bucket_->TryTake(now)) return false;
  sent_untokened_reply_ = false;
  return true;
}

void DeviceSession::CloseOnThread(int code, absl::string_view reason) {
  if (state_ == State::kClosed || close_started_) return;
  close_started_ = true;
  closing_ = true;
  if (transport_->Close(code, reason)) sent_close_.emplace(code, std::string(reason));
}

void DeviceSession::SchedulePing() {
  transport_->RunAfter(limits_.ping_interval, [weak = weak_from_this()] {
    auto self = weak.lock();
    if (self == nullptr || self->state_ != State::kAuthenticated) return;
    const uint64_t ping = ++self->pings_sent_;
    self->awaiting_pong_ = true;
    self->transport_->Ping();
    self->transport_->RunAfter(self->limits_.pong_timeout, [weak, ping] {
      auto self = weak.lock();
      if (self != nullptr && self->awaiting_pong_ && self->pings_sent_ == ping) {
        self->CloseOnThread(close_code::kPongTimeout, "no pong within the pong timeout");
      }
    });
    self->SchedulePing();
  });
}

void DeviceSession::Heard() {
  if (limits_.idle_timeout > absl::ZeroDuration()) last_heard_ = services_.clock.Now();
}

void DeviceSession::ScheduleIdleCheck(absl::Duration delay) {
  transport_->RunAfter(delay, [weak = weak_from_this()] {
    auto self = weak.lock();
    if (self == nullptr || self->state_ != State::kAuthenticated || self->close_started_) return;
    const absl::Duration silent = self->services_.clock.Now() - self->last_heard_;
    if (silent < self->limits_.idle_timeout) {
      self->ScheduleIdleCheck(self->limits_.idle_timeout - silent);
      return;
    }
    CountIn(self->services_.counters, Limit::kIdleTimeout);
    Log(LogLevel::kInfo, "device_idle",
        {{"device", self->device_id_}, {"account", self->account_id_}, {"silent", absl::FormatDuration(silent)}});
    self->CloseOnThread(close_code::kIdle,
                        absl::StrCat("idle: nothing received for ", absl::FormatDuration(self->limits_.idle_timeout)));
  });
}

void DeviceSession::PublishBridgeEvent(absl::string_view type, DeviceEvent event) {
  event.set_device_id(device_id_);
  event.set_account_id(account_id_);
  event.set_service(std::string(codec::kBackendService));
  event.set_type(std::string(type));
  *event.mutable_received_at() = ToTimestamp(services_.clock.Now());
  Publish(std::move(event));
}

void DeviceSession::Publish(DeviceEvent event) {
  counts_.Event(event.type());
  services_.events.Publish(std::move(event));
}

void DeviceSession::SendText(std::string frame) {
  counts_.Sent(frame.size());
  transport_->SendText(std::move(frame));
}

}  // namespace hive

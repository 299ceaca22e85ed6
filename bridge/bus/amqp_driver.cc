#include "bridge/bus/amqp_driver.h"

#include <poll.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "bridge/log.h"
#include "bridge/status_macros.h"

namespace hive {
namespace {

constexpr size_t kFramesPerPump = 1000;
constexpr absl::Duration kIdleWait = absl::Milliseconds(200);
constexpr absl::Duration kFirstBackoff = absl::Milliseconds(100);
constexpr absl::Duration kFarewellTimeout = absl::Seconds(2);

std::string Text(amqp_bytes_t bytes) {
  return bytes.len == 0 ? std::string() : std::string(static_cast<const char*>(bytes.bytes), bytes.len);
}

}  // namespace

// One connection to the broker and the loop that serves it.
class AmqpDriver::Session {
 public:
  Session(AmqpDriver& driver, std::unique_ptr<AmqpConnection> amqp) : driver_(driver), amqp_(std::move(amqp)) {
    for (AmqpPart* part : driver_.parts_) {
      for (amqp_channel_t channel : part->channels()) owners_[channel] = part;
    }
  }

  absl::Status SetUp() {
    for (const auto& [channel, part] : owners_) HIVE_RETURN_IF_ERROR(amqp_->OpenChannel(channel));
    for (AmqpPart* part : driver_.parts_) HIVE_RETURN_IF_ERROR(part->SetUp(*amqp_));
    return absl::OkStatus();
  }

  // Serves until the connection fails (its status) or the driver stops (OK).
  absl::Status Serve();

 private:
  absl::Status Pump(absl::Duration wait);
  absl::Status HandleFrame(const amqp_frame_t& frame);
  AmqpPart* OwnerOf(amqp_channel_t channel) const {
    auto it = owners_.find(channel);
    return it == owners_.end() ? nullptr : it->second;
  }
  absl::Status Farewell();
  const std::string& role() const { return driver_.options_.role; }

  AmqpDriver& driver_;
  std::unique_ptr<AmqpConnection> amqp_;
  absl::flat_hash_map<amqp_channel_t, AmqpPart*> owners_;
  // Whether the broker was healthy at the last turn of the loop.
  bool was_healthy_ = false;
};

absl::Status AmqpDriver::Session::Serve() {
  BrokerHealth& health = driver_.health_;
  while (true) {
    const bool stopping = driver_.stop_.HasBeenNotified();
    if (health.dead()) {
      return absl::UnavailableError(absl::StrCat("the broker sent nothing, not even a heartbeat, for ",
                                                 absl::FormatDuration(health.silent_for())));
    }
    const bool healthy = health.connected();
    if (healthy != was_healthy_) {
      was_healthy_ = healthy;
      const BrokerState state = health.state();
      if (healthy) {
        Log(LogLevel::kInfo, "broker_healthy", {{"connection", role()}});
      } else {
        Log(LogLevel::kWarn, "broker_unhealthy",
            {{"connection", role()},
             {"state", BrokerStateName(state)},
             {"silent_for", absl::FormatDuration(health.silent_for())}});
      }
      for (AmqpPart* part : driver_.parts_) part->OnHealthChanged(healthy, state);
    }
    if (!healthy) {
      // Blocked or silent: the broker reads nothing, so whatever is written
      // would only fill the socket. The parts' queues hold the work meanwhile.
      if (stopping) return absl::OkStatus();
      HIVE_RETURN_IF_ERROR(Pump(kIdleWait));
      continue;
    }
    const absl::Time now = driver_.clock_.Now();
    bool more = false;
    for (AmqpPart* part : driver_.parts_) HIVE_RETURN_IF_ERROR(part->Flush(*amqp_, now, more));
    if (stopping && !more) return Farewell();
    absl::Time due = absl::InfiniteFuture();
    for (const AmqpPart* part : driver_.parts_) due = std::min(due, part->next_due());
    HIVE_RETURN_IF_ERROR(Pump(more ? absl::ZeroDuration() : std::clamp(due - now, absl::ZeroDuration(), kIdleWait)));
  }
}

absl::Status AmqpDriver::Session::Pump(absl::Duration wait) {
  const bool buffered = amqp_->HasBufferedInput();
  pollfd fds[] = {{amqp_->fd(), POLLIN, 0}, {driver_.wakeup_->fd(), POLLIN, 0}};
  poll(fds, 2, wait > absl::ZeroDuration() && !buffered ? static_cast<int>(absl::ToInt64Milliseconds(wait)) + 1 : 0);
  // Anything at all from the broker, its heartbeats included (rabbitmq-c
  // reads those without handing them over), says it is alive.
  if (buffered || (fds[0].revents & POLLIN) != 0) driver_.health_.Heard();
  driver_.wakeup_->Clear();
  for (size_t i = 0; i < kFramesPerPump; ++i) {
    absl::StatusOr<std::optional<amqp_frame_t>> frame = amqp_->NextFrame(absl::ZeroDuration());
    if (!frame.ok()) return frame.status();
    if (!frame->has_value()) break;
    HIVE_RETURN_IF_ERROR(HandleFrame(**frame));
  }
  for (AmqpPart* part : driver_.parts_) HIVE_RETURN_IF_ERROR(part->AfterRead(*amqp_));
  return absl::OkStatus();
}

absl::Status AmqpDriver::Session::HandleFrame(const amqp_frame_t& frame) {
  if (frame.frame_type != AMQP_FRAME_METHOD) return absl::OkStatus();
  const amqp_method_t& method = frame.payload.method;
  AmqpPart* owner = OwnerOf(frame.channel);
  switch (method.id) {
    case AMQP_BASIC_DELIVER_METHOD: {
      const auto* deliver = static_cast<const amqp_basic_deliver_t*>(method.decoded);
      AmqpDelivery delivery{frame.channel,           Text(deliver->consumer_tag),
                            Text(deliver->exchange), Text(deliver->routing_key),
                            deliver->delivery_tag,   {}};
      absl::StatusOr<AmqpMessage> message = amqp_->ReadContent(frame.channel);
      if (!message.ok()) return message.status();
      delivery.message = *std::move(message);
      return owner == nullptr ? absl::OkStatus() : owner->OnDelivery(std::move(delivery));
    }
    case AMQP_BASIC_RETURN_METHOD: {
      const auto* returned = static_cast<const amqp_basic_return_t*>(method.decoded);
      const std::string routing_key = Text(returned->routing_key);
      absl::StatusOr<AmqpMessage> message = amqp_->ReadContent(frame.channel);
      if (!message.ok()) return message.status();
      if (owner != nullptr) owner->OnReturn(routing_key, *message);
      return absl::OkStatus();
    }
    case AMQP_BASIC_ACK_METHOD: {
      const auto* ack = static_cast<const amqp_basic_ack_t*>(method.decoded);
      if (owner != nullptr) owner->OnConfirm(ack->delivery_tag, ack->multiple, /*acked=*/true);
      return absl::OkStatus();
    }
    case AMQP_BASIC_NACK_METHOD: {
      const auto* nack = static_cast<const amqp_basic_nack_t*>(method.decoded);
      if (owner != nullptr) owner->OnConfirm(nack->delivery_tag, nack->multiple, /*acked=*/false);
      return absl::OkStatus();
    }
    case AMQP_CHANNEL_CLOSE_METHOD: {
      const auto* close = static_cast<const amqp_channel_close_t*>(method.decoded);
      return absl::UnavailableError(
          absl::StrCat("broker closed channel ", frame.channel, ": ", close->reply_code, " ", Text(close->reply_text)));
    }
    case AMQP_CONNECTION_CLOSE_METHOD: {
      const auto* close = static_cast<const amqp_connection_close_t*>(method.decoded);
      return absl::UnavailableError(
          absl::StrCat("broker closed the connection: ", close->reply_code, " ", Text(close->reply_text)));
    }
    case AMQP_BASIC_CANCEL_METHOD:
      return absl::UnavailableError("broker cancelled a consumer (queue deleted?)");
    case AMQP_CONNECTION_BLOCKED_METHOD: {
      const auto* blocked = static_cast<const amqp_connection_blocked_t*>(method.decoded);
      driver_.health_.Blocked();
      Log(LogLevel::kWarn, "broker_blocked", {{"connection", role()}, {"reason", Text(blocked->reason)}});
      return absl::OkStatus();
    }
    case AMQP_CONNECTION_UNBLOCKED_METHOD:
      driver_.health_.Unblocked();
      Log(LogLevel::kInfo, "broker_unblocked", {{"connection", role()}});
      return absl::OkStatus();
    default:
      // Replies nothing waits for (queue.unbind-ok after UnbindNoWait).
      return absl::OkStatus();
  }
}

absl::Status AmqpDriver::Session::Farewell() {
  for (AmqpPart* part : driver_.parts_) HIVE_RETURN_IF_ERROR(part->Farewell(*amqp_));
  auto settled = [&] {
    return std::all_of(driver_.parts_.begin(), driver_.parts_.end(),
                       [](const AmqpPart* part) { return part->settled(); });
  };
  const absl::Time deadline = driver_.clock_.Now() + kFarewellTimeout;
  while (!settled() && driver_.clock_.Now() < deadline) HIVE_RETURN_IF_ERROR(Pump(absl::Milliseconds(50)));
  amqp_->Close();
  return absl::OkStatus();
}

AmqpDriver::AmqpDriver(AmqpDriverOptions options, Clock& clock)
    : options_(std::move(options)), clock_(clock), watchdog_(clock, options_.io_timeout), health_(clock, &watchdog_) {}

AmqpDriver::~AmqpDriver() { Stop(); }

void AmqpDriver::Add(AmqpPart* part) { parts_.push_back(part); }

void AmqpDriver::Start() {
  thread_ = std::thread([this] { Run(); });
}

void AmqpDriver::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  wakeup_->Wake();
  if (thread_.joinable()) thread_.join();
}

void AmqpDriver::Run() {
  absl::BitGen random;
  absl::Duration backoff = kFirstBackoff;
  const std::string broker = options_.address.Redacted();
  while (!stop_.HasBeenNotified()) {
    absl::StatusOr<std::unique_ptr<AmqpConnection>> amqp = AmqpConnection::Open(
        options_.address, options_.io_timeout, absl::StrCat("hivebridge ", options_.replica_id, " ", options_.role));
    absl::Status status = amqp.status();
    if (status.ok()) {
      (*amqp)->set_watchdog(&watchdog_);
      const absl::Duration heartbeat = (*amqp)->heartbeat();
      Session session(*this, *std::move(amqp));
      status = session.SetUp();
      if (status.ok()) {
        health_.Connected(heartbeat);
        backoff = kFirstBackoff;
        Log(LogLevel::kInfo, "bus_connected",
            {{"connection", options_.role}, {"broker", broker}, {"heartbeat", absl::FormatDuration(heartbeat)}});
        status = session.Serve();
      }
      if (!status.ok() && health_.state() == BrokerState::kSilent) {
        Log(LogLevel::kWarn, "broker_silent",
            {{"connection", options_.role},
             {"broker", broker},
             {"silent_for", absl::FormatDuration(health_.silent_for())}});
      }
      health_.Disconnected();
      for (AmqpPart* part : parts_) part->OnConnectionEnded(/*stopped=*/status.ok());
      if (status.ok()) return;  // stopped
    }
    Log(LogLevel::kWarn, "bus_disconnected",
        {{"connection", options_.role},
         {"broker", broker},
         {"error", status.message()},
         {"retry_in", absl::FormatDuration(backoff)}});
    // Jitter, so that replicas do not all come back at the same instant.
    stop_.WaitForNotificationWithTimeout(backoff * absl::Uniform(random, 0.5, 1.5));
    backoff = std::min(backoff * 2, kMaxReconnectBackoff);
  }
}

}  // namespace hive

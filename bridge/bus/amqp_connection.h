// bridge/bus/amqp_connection.h
// One connection to a RabbitMQ broker on rabbitmq-c, with its errors as
// absl::Status and its messages as plain structs. rabbitmq-c connections are
// not thread-safe: one thread (the bus thread) owns each.
//
//   absl::StatusOr<AmqpAddress> address = ParseAmqpUrl("amqp://guest:guest@localhost:5672/%2f");
//   auto connection = AmqpConnection::Open(*address, absl::Seconds(5), "hivebridge replica-1");
//   (*connection)->OpenChannel(1);
//   (*connection)->DeclareExchange(1, "hive.events", "topic");
#pragma once

#include <amqp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bridge/bus/write_watchdog.h"

namespace hive {

struct AmqpAddress {
  std::string host;
  int port = 5672;
  std::string user;
  std::string password;
  std::string vhost;
  bool tls = false;

  // For logs: everything but the password.
  std::string Redacted() const;
};

// amqp://user:pass@host:port/vhost or amqps://... ; an error never echoes
// the URL, which carries a password.
absl::StatusOr<AmqpAddress> ParseAmqpUrl(absl::string_view url);

using AmqpValue = std::variant<int64_t, std::string>;
using AmqpTable = std::vector<std::pair<std::string, AmqpValue>>;

const AmqpValue* FindAmqpValue(const AmqpTable& table, absl::string_view key);

struct AmqpMessage {
  std::string body;
  std::string content_type;
  std::string message_id;
  std::string correlation_id;
  std::string reply_to;
  // Who published it: the broker refuses a user_id other than the
  // publisher's login, so when set it is true (logs of refused messages).
  std::string user_id;
  // Milliseconds the broker may keep it queued; empty for no limit.
  std::string expiration;
  bool persistent = false;
  AmqpTable headers;
};

class AmqpConnection {
 public:
  // Connects, logs in (asking for connection.blocked notifications and
  // heartbeats) and sets the RPC timeout to `timeout`.
  static absl::StatusOr<std::unique_ptr<AmqpConnection>> Open(const AmqpAddress& address, absl::Duration timeout,
                                                              absl::string_view connection_name);
  ~AmqpConnection();
  AmqpConnection(const AmqpConnection&) = delete;
  AmqpConnection& operator=(const AmqpConnection&) = delete;

  absl::Status OpenChannel(amqp_channel_t channel);
  absl::Status SelectConfirms(amqp_channel_t channel);
  absl::Status SetPrefetch(amqp_channel_t channel, uint16_t count);
  absl::Status DeclareExchange(amqp_channel_t channel, absl::string_view name, absl::string_view type);
  struct QueueOptions {
    bool durable = false;
    bool exclusive = false;
    bool auto_delete = false;
    AmqpTable arguments;
  };
  absl::Status DeclareQueue(amqp_channel_t channel, absl::string_view name, const QueueOptions& options);
  absl::Status Bind(amqp_channel_t channel, absl::string_view queue, absl::string_view exchange, absl::string_view key);
  absl::Status Unbind(amqp_channel_t channel, absl::string_view queue, absl::string_view exchange,
                      absl::string_view key);
  // Pipelined: the method is sent and nothing is awaited, so that a storm of
  // devices costs no round trip each. queue.bind goes with no-wait (no
  // reply); queue.unbind has no no-wait, so its unbind-ok arrives among the
  // other frames later and is ignored. A failure closes the channel, which
  // the reader sees. On one channel the broker applies methods in order: a
  // message published on the same channel afterwards finds the binding.
  absl::Status BindNoWait(amqp_channel_t channel, absl::string_view queue, absl::string_view exchange,
                          absl::string_view key);
  absl::Status UnbindNoWait(amqp_channel_t channel, absl::string_view queue, absl::string_view exchange,
                            absl::string_view key);
  absl::Status Consume(amqp_channel_t channel, absl::string_view queue, absl::string_view tag, bool auto_ack,
                       const AmqpTable& arguments = {});
  absl::Status Publish(amqp_channel_t channel, absl::string_view exchange, absl::string_view routing_key,
                       bool mandatory, const AmqpMessage& message);
  absl::Status Ack(amqp_channel_t channel, uint64_t delivery_tag, bool multiple);

  // Every write from now on is armed on `watchdog` (null: none), which must
  // outlive the connection: rabbitmq-c's own writes have no deadline.
  void set_watchdog(WriteWatchdog* watchdog) { watchdog_ = watchdog; }
  // The heartbeat interval agreed with the broker (zero: none).
  absl::Duration heartbeat() const;

  // The socket, for poll().
  int fd() const;
  // Whether NextFrame may return a frame without reading the socket.
  bool HasBufferedInput() const;
  // The next frame, waiting at most `timeout`; nullopt when none came.
  absl::StatusOr<std::optional<amqp_frame_t>> NextFrame(absl::Duration timeout);
  // The header and body following a basic.deliver or basic.return on `channel`.
  absl::StatusOr<AmqpMessage> ReadContent(amqp_channel_t channel);

  // Closes politely; the destructor only tears down.
  void Close();

 private:
  explicit AmqpConnection(amqp_connection_state_t state) : state_(state) {}

  absl::Status Check(absl::string_view what);

  amqp_connection_state_t state_;
  bool open_ = false;
  WriteWatchdog* watchdog_ = nullptr;
};

}  // namespace hive

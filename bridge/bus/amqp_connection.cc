#include "bridge/bus/amqp_connection.h"

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>

#include "absl/strings/str_cat.h"

namespace hive {
namespace {

// Debian's bundle of trusted CAs, for amqps:// brokers.
constexpr char kSystemCaBundle[] = "/etc/ssl/certs/ca-certificates.crt";
constexpr int kFrameMax = 131072;
// Asked of the broker at login. It heartbeats at least this often (RabbitMQ
// checks every half interval whether it sent anything), so a broker heard
// from for 2 intervals is taken for dead (broker_health.h); short, so that a
// frozen broker is noticed before the replicas' own 5 s liveness timeout.
constexpr int kHeartbeatSeconds = 2;

amqp_bytes_t Bytes(absl::string_view text) { return amqp_bytes_t{text.size(), const_cast<char*>(text.data())}; }

std::string String(amqp_bytes_t bytes) {
  return bytes.len == 0 ? std::string() : std::string(static_cast<const char*>(bytes.bytes), bytes.len);
}

timeval TimevalOf(absl::Duration duration) {
  if (duration < absl::ZeroDuration()) duration = absl::ZeroDuration();
  const int64_t micros = absl::ToInt64Microseconds(duration);
  return timeval{static_cast<time_t>(micros / 1000000), static_cast<suseconds_t>(micros % 1000000)};
}

// An amqp_table_t that points into `table`, which must outlive it.
class TableView {
 public:
  explicit TableView(const AmqpTable& table) {
    entries_.reserve(table.size());
    for (const auto& [key, value] : table) {
      amqp_table_entry_t entry{};
      entry.key = Bytes(key);
      if (const int64_t* number = std::get_if<int64_t>(&value)) {
        entry.value.kind = AMQP_FIELD_KIND_I64;
        entry.value.value.i64 = *number;
      } else {
        entry.value.kind = AMQP_FIELD_KIND_UTF8;
        entry.value.value.bytes = Bytes(std::get<std::string>(value));
      }
      entries_.push_back(entry);
    }
  }
  amqp_table_t table() { return amqp_table_t{static_cast<int>(entries_.size()), entries_.data()}; }

 private:
  std::vector<amqp_table_entry_t> entries_;
};

AmqpTable TableOf(const amqp_table_t& table) {
  AmqpTable out;
  for (int i = 0; i < table.num_entries; ++i) {
    const amqp_table_entry_t& entry = table.entries[i];
    const amqp_field_value_t& value = entry.value;
    switch (value.kind) {
      case AMQP_FIELD_KIND_I8:
        out.emplace_back(String(entry.key), int64_t{value.value.i8});
        break;
      case AMQP_FIELD_KIND_U8:
        out.emplace_back(String(entry.key), int64_t{value.value.u8});
        break;
      case AMQP_FIELD_KIND_I16:
        out.emplace_back(String(entry.key), int64_t{value.value.i16});
        break;
      case AMQP_FIELD_KIND_U16:
        out.emplace_back(String(entry.key), int64_t{value.value.u16});
        break;
      case AMQP_FIELD_KIND_I32:
        out.emplace_back(String(entry.key), int64_t{value.value.i32});
        break;
      case AMQP_FIELD_KIND_U32:
        out.emplace_back(String(entry.key), int64_t{value.value.u32});
        break;
      case AMQP_FIELD_KIND_I64:
        out.emplace_back(String(entry.key), int64_t{value.value.i64});
        break;
      case AMQP_FIELD_KIND_U64:
      case AMQP_FIELD_KIND_TIMESTAMP:
        out.emplace_back(String(entry.key), static_cast<int64_t>(value.value.u64));
        break;
      case AMQP_FIELD_KIND_UTF8:
      case AMQP_FIELD_KIND_BYTES:
        out.emplace_back(String(entry.key), String(value.value.bytes));
        break;
      default:
        break;  // Kinds the bridge never sends are of no use to it.
    }
  }
  return out;
}

absl::Status StatusOfReply(const amqp_rpc_reply_t& reply, absl::string_view what) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return absl::OkStatus();
    case AMQP_RESPONSE_NONE:
      return absl::UnavailableError(absl::StrCat(what, ": no reply from the broker"));
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return absl::UnavailableError(absl::StrCat(what, ": ", amqp_error_string2(reply.library_error)));
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* close = static_cast<const amqp_channel_close_t*>(reply.reply.decoded);
        return absl::FailedPreconditionError(
            absl::StrCat(what, ": broker closed the channel: ", close->reply_code, " ", String(close->reply_text)));
      }
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* close = static_cast<const amqp_connection_close_t*>(reply.reply.decoded);
        return absl::UnavailableError(
            absl::StrCat(what, ": broker closed the connection: ", close->reply_code, " ", String(close->reply_text)));
      }
      return absl::UnavailableError(absl::StrCat(what, ": unexpected method ", reply.reply.id));
  }
  return absl::UnknownError(absl::StrCat(what, ": unknown reply"));
}

absl::Status StatusOfCode(int code, absl::string_view what) {
  if (code == AMQP_STATUS_OK) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(what, ": ", amqp_error_string2(code)));
}

}  // namespace

std::string AmqpAddress::Redacted() const {
  return absl::StrCat(tls ? "amqps://" : "amqp://", user, "@", host, ":", port, "/", vhost);
}

absl::StatusOr<AmqpAddress> ParseAmqpUrl(absl::string_view url) {
  std::string buffer(url);  // amqp_parse_url cuts the string in place
  amqp_connection_info info{};
  amqp_default_connection_info(&info);
  if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK) {
    return absl::InvalidArgumentError("--bus: not a valid AMQP URL (expected amqp[s]://user:password@host:port/vhost)");
  }
  AmqpAddress address;
  address.host = info.host;
  address.port = info.port;
  address.user = info.user;
  address.password = info.password;
  address.vhost = info.vhost;
  address.tls = info.ssl != 0;
  return address;
}

const AmqpValue* FindAmqpValue(const AmqpTable& table, absl::string_view key) {
  for (const auto& [name, value] : table) {
    if (name == key) return &value;
  }
  return nullptr;
}

absl::StatusOr<std::unique_ptr<AmqpConnection>> AmqpConnection::Open(const AmqpAddress& address, absl::Duration timeout,
                                                                     absl::string_view connection_name) {
  std::unique_ptr<AmqpConnection> connection(new AmqpConnection(amqp_new_connection()));
  amqp_connection_state_t state = connection->state_;
  amqp_socket_t* socket = nullptr;
  if (address.tls) {
    socket = amqp_ssl_socket_new(state);
    if (socket != nullptr) {
      amqp_ssl_socket_set_verify_peer(socket, 1);
      amqp_ssl_socket_set_verify_hostname(socket, 1);
      if (amqp_ssl_socket_set_cacert(socket, kSystemCaBundle) != AMQP_STATUS_OK) {
        return absl::FailedPreconditionError(absl::StrCat("--bus: cannot read the CA bundle ", kSystemCaBundle));
      }
    }
  } else {
    socket = amqp_tcp_socket_new(state);
  }
  if (socket == nullptr) return absl::InternalError("cannot create an AMQP socket");
  timeval connect_timeout = TimevalOf(timeout);
  if (absl::Status opened =
          StatusOfCode(amqp_socket_open_noblock(socket, address.host.c_str(), address.port, &connect_timeout),
                       absl::StrCat("connecting to ", address.host, ":", address.port));
      !opened.ok()) {
    return opened;
  }
  // A frozen broker accepts the TCP connection (the kernel does) but never
  // answers the handshake.
  timeval handshake_timeout = TimevalOf(timeout);
  amqp_set_handshake_timeout(state, &handshake_timeout);
  // rabbitmq-c merges these capabilities into its own. connection.blocked:
  // the broker says when it blocks this connection's publishers (a memory or
  // disk alarm) and when it lets them go again.
  amqp_table_entry_t capability{};
  capability.key = amqp_cstring_bytes("connection.blocked");
  capability.value.kind = AMQP_FIELD_KIND_BOOLEAN;
  capability.value.value.boolean = 1;
  amqp_table_entry_t entries[2]{};
  entries[0].key = amqp_cstring_bytes("connection_name");
  entries[0].value.kind = AMQP_FIELD_KIND_UTF8;
  entries[0].value.value.bytes = Bytes(connection_name);
  entries[1].key = amqp_cstring_bytes("capabilities");
  entries[1].value.kind = AMQP_FIELD_KIND_TABLE;
  entries[1].value.value.table = amqp_table_t{1, &capability};
  amqp_table_t table{2, entries};
  if (absl::Status login = StatusOfReply(
          amqp_login_with_properties(state, address.vhost.c_str(), 0, kFrameMax, kHeartbeatSeconds, &table,
                                     AMQP_SASL_METHOD_PLAIN, address.user.c_str(), address.password.c_str()),
          absl::StrCat("logging in to ", address.Redacted()));
      !login.ok()) {
    return login;
  }
  connection->open_ = true;
  timeval rpc_timeout = TimevalOf(timeout);
  amqp_set_rpc_timeout(state, &rpc_timeout);
  return connection;
}

AmqpConnection::~AmqpConnection() { amqp_destroy_connection(state_); }

absl::Duration AmqpConnection::heartbeat() const { return absl::Seconds(amqp_get_heartbeat(state_)); }

void AmqpConnection::Close() {
  if (!open_) return;
  open_ = false;
  amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
}

absl::Status AmqpConnection::Check(absl::string_view what) { return StatusOfReply(amqp_get_rpc_reply(state_), what); }

absl::Status AmqpConnection::OpenChannel(amqp_channel_t channel) {
  amqp_channel_open(state_, channel);
  return Check(absl::StrCat("opening channel ", channel));
}

absl::Status AmqpConnection::SelectConfirms(amqp_channel_t channel) {
  amqp_confirm_select(state_, channel);
  return Check("enabling publisher confirms");
}

absl::Status AmqpConnection::SetPrefetch(amqp_channel_t channel, uint16_t count) {
  amqp_basic_qos(state_, channel, 0, count, 0);
  return Check("setting the prefetch count");
}

absl::Status AmqpConnection::DeclareExchange(amqp_channel_t channel, absl::string_view name, absl::string_view type) {
  amqp_exchange_declare(state_, channel, Bytes(name), Bytes(type), /*passive=*/0, /*durable=*/1,
                        /*auto_delete=*/0, /*internal=*/0, amqp_empty_table);
  return Check(absl::StrCat("declaring exchange ", name));
}

absl::Status AmqpConnection::DeclareQueue(amqp_channel_t channel, absl::string_view name, const QueueOptions& options) {
  TableView arguments(options.arguments);
  amqp_queue_declare(state_, channel, Bytes(name), /*passive=*/0, options.durable, options.exclusive,
                     options.auto_delete, arguments.table());
  return Check(absl::StrCat("declaring queue ", name));
}

absl::Status AmqpConnection::Bind(amqp_channel_t channel, absl::string_view queue, absl::string_view exchange,
                                  absl::string_view key) {
  WriteWatchdog::Scope writing(watchdog_, fd());
  amqp_queue_bind(state_, channel, Bytes(queue), Bytes(exchange), Bytes(key), amqp_empty_table);
  return Check(absl::StrCat("binding ", queue, " to ", exchange));
}

absl::Status AmqpConnection::Unbind(amqp_channel_t channel, absl::string_view queue, absl::string_view exchange,
                                    absl::string_view key) {
  WriteWatchdog::Scope writing(watchdog_, fd());
  amqp_queue_unbind(state_, channel, Bytes(queue), Bytes(exchange), Bytes(key), amqp_empty_table);
  return Check(absl::StrCat("unbinding ", queue, " from ", exchange));
}

absl::Status AmqpConnection::BindNoWait(amqp_channel_t channel, absl::string_view queue, absl::string_view exchange,
                                        absl::string_view key) {
  amqp_queue_bind_t bind{};
  bind.queue = Bytes(queue);
  bind.exchange = Bytes(exchange);
  bind.routing_key = Bytes(key);
  bind.nowait = 1;
  bind.arguments = amqp_empty_table;
  WriteWatchdog::Scope writing(watchdog_, fd());
  return StatusOfCode(amqp_send_method(state_, channel, AMQP_QUEUE_BIND_METHOD, &bind),
                      absl::StrCat("binding ", queue, " to ", exchange));
}

absl::Status AmqpConnection::UnbindNoWait(amqp_channel_t channel, absl::string_view queue, absl::string_view exchange,
                                          absl::string_view key) {
  amqp_queue_unbind_t unbind{};
  unbind.queue = Bytes(queue);
  unbind.exchange = Bytes(exchange);
  unbind.routing_key = Bytes(key);
  unbind.arguments = amqp_empty_table;
  WriteWatchdog::Scope writing(watchdog_, fd());
  return StatusOfCode(amqp_send_method(state_, channel, AMQP_QUEUE_UNBIND_METHOD, &unbind),
                      absl::StrCat("unbinding ", queue, " from ", exchange));
}

absl::Status AmqpConnection::Consume(amqp_channel_t channel, absl::string_view queue, absl::string_view tag,
                                     bool auto_ack, const AmqpTable& arguments) {
  TableView table(arguments);
  amqp_basic_consume(state_, channel, Bytes(queue), Bytes(tag), /*no_local=*/0, auto_ack, /*exclusive=*/0,
                     table.table());
  return Check(absl::StrCat("consuming from ", queue));
}

absl::Status AmqpConnection::Publish(amqp_channel_t channel, absl::string_view exchange, absl::string_view routing_key,
                                     bool mandatory, const AmqpMessage& message) {
  amqp_basic_properties_t properties{};
  const std::pair<const std::string*, std::pair<amqp_flags_t, amqp_bytes_t*>> texts[] = {
      {&message.content_type, {AMQP_BASIC_CONTENT_TYPE_FLAG, &properties.content_type}},
      {&message.message_id, {AMQP_BASIC_MESSAGE_ID_FLAG, &properties.message_id}},
      {&message.correlation_id, {AMQP_BASIC_CORRELATION_ID_FLAG, &properties.correlation_id}},
      {&message.reply_to, {AMQP_BASIC_REPLY_TO_FLAG, &properties.reply_to}},
      {&message.expiration, {AMQP_BASIC_EXPIRATION_FLAG, &properties.expiration}},
      {&message.user_id, {AMQP_BASIC_USER_ID_FLAG, &properties.user_id}},
  };
  for (const auto& [text, field] : texts) {
    if (text->empty()) continue;
    properties._flags |= field.first;
    *field.second = Bytes(*text);
  }
  if (message.persistent) {
    properties._flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
    properties.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  }
  TableView headers(message.headers);
  if (!message.headers.empty()) {
    properties._flags |= AMQP_BASIC_HEADERS_FLAG;
    properties.headers = headers.table();
  }
  WriteWatchdog::Scope writing(watchdog_, fd());
  return StatusOfCode(amqp_basic_publish(state_, channel, Bytes(exchange), Bytes(routing_key), mandatory,
                                         /*immediate=*/0, &properties, Bytes(message.body)),
                      absl::StrCat("publishing to ", exchange));
}

absl::Status AmqpConnection::Ack(amqp_channel_t channel, uint64_t delivery_tag, bool multiple) {
  WriteWatchdog::Scope writing(watchdog_, fd());
  return StatusOfCode(amqp_basic_ack(state_, channel, delivery_tag, multiple), "acknowledging");
}

int AmqpConnection::fd() const { return amqp_get_sockfd(state_); }

bool AmqpConnection::HasBufferedInput() const { return amqp_frames_enqueued(state_) || amqp_data_in_buffer(state_); }

absl::StatusOr<std::optional<amqp_frame_t>> AmqpConnection::NextFrame(absl::Duration timeout) {
  amqp_maybe_release_buffers(state_);
  amqp_frame_t frame;
  timeval wait = TimevalOf(timeout);
  int code = AMQP_STATUS_OK;
  {
    // rabbitmq-c sends its heartbeats from here.
    WriteWatchdog::Scope writing(watchdog_, fd());
    code = amqp_simple_wait_frame_noblock(state_, &frame, &wait);
  }
  if (code == AMQP_STATUS_TIMEOUT) return std::nullopt;
  if (code == AMQP_STATUS_HEARTBEAT_TIMEOUT) {
    return absl::UnavailableError(
        absl::StrCat("the broker sent nothing, not even a heartbeat, for ", 2 * amqp_get_heartbeat(state_), " s"));
  }
  if (code != AMQP_STATUS_OK) return StatusOfCode(code, "reading from the broker");
  return frame;
}

absl::StatusOr<AmqpMessage> AmqpConnection::ReadContent(amqp_channel_t channel) {
  amqp_message_t content;
  if (absl::Status read = StatusOfReply(amqp_read_message(state_, channel, &content, 0), "reading a message");
      !read.ok()) {
    return read;
  }
  const amqp_basic_properties_t& properties = content.properties;
  AmqpMessage message;
  message.body = String(content.body);
  if (properties._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) message.content_type = String(properties.content_type);
  if (properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) message.message_id = String(properties.message_id);
  if (properties._flags & AMQP_BASIC_CORRELATION_ID_FLAG) message.correlation_id = String(properties.correlation_id);
  if (properties._flags & AMQP_BASIC_REPLY_TO_FLAG) message.reply_to = String(properties.reply_to);
  if (properties._flags & AMQP_BASIC_USER_ID_FLAG) message.user_id = String(properties.user_id);
  if (properties._flags & AMQP_BASIC_HEADERS_FLAG) message.headers = TableOf(properties.headers);
  amqp_destroy_message(&content);
  return message;
}

}  // namespace hive

#include "server/device_endpoint.h"

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "bridge/codec/bearer_credential.h"
#include "bridge/log.h"
#include "server/listening_sockets.h"
#include "server/websocket_config.h"

namespace hive::server {
namespace {

constexpr absl::string_view kDevicePath = "/v1/devices";
constexpr size_t kMaxCloseReasonBytes = 123;  // RFC 6455 §5.5: 125-byte control frame payload
// How long a listener waits after a failed accept before it tries again.
constexpr absl::Duration kAcceptRetryDelay = absl::Milliseconds(100);

// A close reason cut to the protocol's limit without splitting a UTF-8 character.
std::string CloseReason(absl::string_view reason) {
  if (reason.size() <= kMaxCloseReasonBytes) return std::string(reason);
  size_t end = kMaxCloseReasonBytes;
  while (end > 0 && (static_cast<unsigned char>(reason[end]) & 0xC0) == 0x80) --end;
  return std::string(reason.substr(0, end));
}

std::string FormatAddress(const asio::ip::tcp::endpoint& endpoint) {
  asio::ip::address address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  if (address.is_v6()) return absl::StrCat("[", address.to_string(), "]:", endpoint.port());
  return absl::StrCat(address.to_string(), ":", endpoint.port());
}

template <typename Cfg>
using Server = websocketpp::server<Cfg>;

template <typename Cfg>
asio::ip::tcp::endpoint RemoteEndpointOf(typename Server<Cfg>::connection_ptr con, asio::error_code& ec) {
  if constexpr (std::is_same_v<Cfg, TlsDeviceConfig>) {
    return con->get_socket().lowest_layer().remote_endpoint(ec);
  } else {
    return con->get_raw_socket().remote_endpoint(ec);
  }
}

// DeviceTransport over one websocketpp connection; every call but Post runs
// on the connection's io_context thread.
template <typename Cfg>
class WebSocketTransport final : public DeviceTransport {
 public:
  WebSocketTransport(Server<Cfg>& server, websocketpp::connection_hdl hdl, asio::io_context& io, std::string address)
      : server_(server), hdl_(std::move(hdl)), io_(io), address_(std::move(address)) {}

  void SendText(std::string frame) override {
    websocketpp::lib::error_code ec;
    server_.send(hdl_, frame, websocketpp::frame::opcode::text, ec);
    if (ec) Log(LogLevel::kDebug, "ws_send_failed", {{"address", address_}, {"error", ec.message()}});
  }

  void Ping() override {
    websocketpp::lib::error_code ec;
    server_.ping(hdl_, "", ec);
  }

  bool Close(int code, absl::string_view reason) override {
    websocketpp::lib::error_code ec;
    // Fails (invalid_state) once the connection is closing already.
    server_.close(hdl_, static_cast<websocketpp::close::status::value>(code), CloseReason(reason), ec);
    return !ec;
  }

  void RunAfter(absl::Duration delay, absl::AnyInvocable<void()> task) override {
    auto timer = std::make_shared<asio::steady_timer>(io_, absl::ToChronoNanoseconds(delay));
    timer->async_wait([timer, task = std::move(task)](const asio::error_code& ec) mutable {
      if (!ec) task();
    });
  }

  void Post(absl::AnyInvocable<void()> task) override { asio::post(io_, std::move(task)); }

  std::string remote_address() const override { return address_; }

  // websocketpp's send queue in bytes; the batch being written is no longer
  // in it (at most the bytes that were queued when that write started).
  size_t buffered_bytes() const override {
    websocketpp::lib::error_code ec;
    typename Server<Cfg>::connection_ptr con = server_.get_con_from_hdl(hdl_, ec);
    return ec || con == nullptr ? 0 : con->get_buffered_amount();
  }

 private:
  Server<Cfg>& server_;
  websocketpp::connection_hdl hdl_;
  asio::io_context& io_;
  const std::string address_;
};

// One I/O thread: its io_context, its listener, its connections.
template <typename Cfg>
struct Shard {
  asio::io_context io;
  Server<Cfg> server;
  std::set<websocketpp::connection_hdl, std::owner_less<websocketpp::connection_hdl>> connections;
  std::atomic<size_t> connection_count{0};
  // Whether the last accept failed (the I/O thread's own), so that a run of
  // failures logs once when it starts and once when it ends.
  bool accept_failing = false;
  // The listening socket's descriptor, to tell it from another process's.
  int listener_fd = -1;
  std::thread thread;
};

template <typename Cfg>
class DeviceEndpointImpl final : public DeviceEndpoint {
 public:
  DeviceEndpointImpl(DeviceEndpointOptions options, SessionServices& services, const SessionLimits& limits,
                     HttpRoutes routes)
      : options_(std::move(options)), services_(services), limits_(limits), routes_(std::move(routes)) {}

  ~DeviceEndpointImpl() override { Stop(absl::ZeroDuration()); }

  absl::Status Listen() {
    const size_t colon = options_.listen.rfind(':');
    std::string host = options_.listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty()) host = "0.0.0.0";
    std::string port = options_.listen.substr(colon + 1);
    const int threads = std::max(1, options_.io_threads);
    for (int i = 0; i < threads; ++i) {
      auto shard = std::make_unique<Shard<Cfg>>();
      Configure(*shard);
      websocketpp::lib::error_code ec;
      shard->server.listen(host, port, ec);
      if (ec) return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen, ": ", ec.message()));
      if (i == 0) {
        // With port 0 the first listener picks the port the others share.
        asio::error_code local_ec;
        port_ = shard->server.get_local_endpoint(local_ec).port();
        port = absl::StrCat(port_);
      }
      ec = AcceptNext(*shard);
      if (ec) return absl::UnavailableError(absl::StrCat("cannot accept on ", options_.listen, ": ", ec.message()));
      shards_.push_back(std::move(shard));
    }
    if (absl::Status alone = CheckAloneOnPort(); !alone.ok()) return alone;
    for (auto& shard : shards_) {
      shard->thread = std::thread([s = shard.get()] { s->io.run(); });
    }
    return absl::OkStatus();
  }

  int port() const override { return port_; }

  // SO_REUSEPORT, which the shards share the port with, lets another process
  // of the same user join them: a second bridge on the same --ws-listen would
  // start, and the kernel would split the devices between the two. Checked
  // once every shard listens; of two bridges racing to the port, the later
  // one to check sees the other's sockets (both may, and both then refuse).
  absl::Status CheckAloneOnPort() {
    absl::flat_hash_set<uint64_t> ours;
    for (const auto& shard : shards_) {
      struct stat st {};
      if (shard->listener_fd >= 0 && fstat(shard->listener_fd, &st) == 0) ours.insert(st.st_ino);
    }
    asio::error_code ec;
    const asio::ip::address mine = shards_.front()->server.get_local_endpoint(ec).address();
    absl::StatusOr<std::vector<ListeningSocket>> on_port = ListeningSockets(static_cast<uint16_t>(port_));
    if (!on_port.ok()) {
      Log(LogLevel::kWarn, "listen_check_skipped",
          {{"reason", on_port.status().message()}, {"port", absl::StrCat(port_)}});
      return absl::OkStatus();
    }
    for (const ListeningSocket& other : *on_port) {
      if (ours.contains(other.inode) || !Overlaps(other.address, mine)) continue;
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", options_.listen, ": another process already listens on port ", port_,
                       " (socket inode ", other.inode,
                       ") and shares it through SO_REUSEPORT, as this bridge's I/O threads do; "
                       "the kernel would split the devices between the two. Stop it or choose another --ws-listen"));
    }
    return absl::OkStatus();
  }

  void StopAccepting() override {
    for (auto& shard : shards_) {
      asio::post(shard->io, [s = shard.get()] {
        websocketpp::lib::error_code ec;
        s->server.stop_listening(ec);
      });
    }
  }

  void CloseAll(int code, const std::string& reason) override {
    for (auto& shard : shards_) {
      asio::post(shard->io, [s = shard.get(), code, reason] {
        // Through the sessions, so that each reports the close it sent.
        for (const auto& hdl : s->connections) {
          websocketpp::lib::error_code gone;
          ConnectionPtr con = s->server.get_con_from_hdl(hdl, gone);
          if (!gone && con->session != nullptr) con->session->Close(code, reason);
        }
      });
    }
  }

  void Stop(absl::Duration grace) override {
    const absl::Time deadline = absl::Now() + grace;
    while (connection_count() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
    for (auto& shard : shards_) shard->io.stop();
    for (auto& shard : shards_) {
      if (shard->thread.joinable()) shard->thread.join();
    }
  }

  uint64_t accept_errors() const override { return accept_errors_.load(std::memory_order_relaxed); }

  size_t connection_count() const override {
    size_t total = 0;
    for (const auto& shard : shards_) total += shard->connection_count.load();
    return total;
  }

 private:
  using ConnectionPtr = typename Server<Cfg>::connection_ptr;

  // The accept loop, instead of websocketpp's server::start_accept, which
  // retries at once after a failed accept: out of file descriptors (EMFILE,
  // ENFILE) the connection stays in the listen backlog, so the retry fails
  // again at once and the I/O thread spins at 100 % CPU until a descriptor
  // frees. Here a failure is counted and logged, and the listener waits
  // kAcceptRetryDelay before it tries again; its connections are served
  // meanwhile. Returns why the accept could not be started (not listening:
  // StopAccepting).
  websocketpp::lib::error_code AcceptNext(Shard<Cfg>& shard) {
    ConnectionPtr con = shard.server.get_connection();
    if (con == nullptr) return websocketpp::error::make_error_code(websocketpp::error::con_creation_failed);
    websocketpp::lib::error_code ec;
    shard.server.async_accept(
        con, [this, &shard, con](const websocketpp::lib::error_code& accepted) { OnAccepted(shard, con, accepted); },
        ec);
    if (ec) con->terminate(websocketpp::lib::error_code());
    return ec;
  }

  void OnAccepted(Shard<Cfg>& shard, ConnectionPtr con, const websocketpp::lib::error_code& ec) {
    if (!ec) {
      if (std::exchange(shard.accept_failing, false)) Log(LogLevel::kInfo, "accept_resumed", {});
      con->start();
      AcceptNext(shard);
      return;
    }
    con->terminate(ec);
    // StopAccepting closed the listener (websocketpp passes asio's code on).
    if (ec == websocketpp::error::make_error_code(websocketpp::error::operation_canceled) ||
        ec == asio::error::operation_aborted) {
      return;
    }
    accept_errors_.fetch_add(1, std::memory_order_relaxed);
    if (!std::exchange(shard.accept_failing, true)) {
      Log(LogLevel::kWarn, "accept_failed",
          {{"error", ec.message()}, {"retry_every", absl::FormatDuration(kAcceptRetryDelay)}});
    }
    auto timer = std::make_shared<asio::steady_timer>(shard.io, absl::ToChronoNanoseconds(kAcceptRetryDelay));
    timer->async_wait([this, &shard, timer](const asio::error_code& waited) {
      if (!waited) AcceptNext(shard);
    });
  }

  void Configure(Shard<Cfg>& shard) {
    Server<Cfg>& server = shard.server;
    server.init_asio(&shard.io);
    server.set_reuse_addr(true);
    server.set_tcp_pre_bind_handler([&shard](auto acceptor) {
      acceptor->set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
      shard.listener_fd = acceptor->native_handle();
      return websocketpp::lib::error_code();
    });
    // Device frames are small and each one waits on the other side (a request
    // for its ack, an ack for its caller): Nagle's algorithm would hold them
    // back for tens of milliseconds.
    server.set_socket_init_handler([](const websocketpp::connection_hdl&, auto& socket) {
      asio::error_code ignored;
      socket.lowest_layer().set_option(asio::ip::tcp::no_delay(true), ignored);
    });
    server.set_max_message_size(options_.max_message_bytes);
    server.set_open_handshake_timeout(static_cast<long>(absl::ToInt64Milliseconds(options_.handshake_timeout)));
    server.set_pong_timeout(static_cast<long>(absl::ToInt64Milliseconds(limits_.pong_timeout)));
    if constexpr (std::is_same_v<Cfg, TlsDeviceConfig>) {
      // Built once and shared, not per connection; a reload swaps it for the
      // connections that come after (transport/tls_context_source.h).
      server.set_tls_init_handler([this](const websocketpp::connection_hdl&) { return options_.tls->current(); });
      // One deadline over the TLS handshake and the upgrade replaces the
      // upgrade's own timeout.
      server.set_open_handshake_timeout(0);
      server.set_tcp_pre_init_handler([this, &shard](websocketpp::connection_hdl hdl) {
        AdoptCurrentTlsContext(shard, hdl);
        StartHandshakeDeadline(shard, hdl);
      });
      server.set_tcp_post_init_handler(
          [&shard](websocketpp::connection_hdl hdl) { shard.server.get_con_from_hdl(hdl)->tls_established = true; });
    }
    server.set_validate_handler([this, &shard](websocketpp::connection_hdl hdl) { return OnValidate(shard, hdl); });
    server.set_open_handler([this, &shard](websocketpp::connection_hdl hdl) { OnOpen(shard, hdl); });
    server.set_message_handler([&shard](websocketpp::connection_hdl hdl, typename Server<Cfg>::message_ptr msg) {
      ConnectionPtr con = shard.server.get_con_from_hdl(hdl);
      if (con->session == nullptr) return;
      if (msg->get_opcode() == websocketpp::frame::opcode::text) {
        con->session->OnText(msg->get_payload());
      } else {
        con->session->OnBinary();
      }
    });
    server.set_ping_handler([&shard](websocketpp::connection_hdl hdl, const std::string&) {
      ConnectionPtr con = shard.server.get_con_from_hdl(hdl);
      if (con->session != nullptr) con->session->OnPing();
      return true;  // websocketpp answers with a pong
    });
    server.set_pong_handler([&shard](websocketpp::connection_hdl hdl, const std::string&) {
      ConnectionPtr con = shard.server.get_con_from_hdl(hdl);
      if (con->session != nullptr) con->session->OnPong();
    });
    server.set_close_handler([this, &shard](websocketpp::connection_hdl hdl) {
      ConnectionPtr con = shard.server.get_con_from_hdl(hdl);
      if (con->get_local_close_code() == websocketpp::close::status::message_too_big &&
          con->get_local_close_reason() == TooBigReason()) {
        CountIn(options_.counters, Limit::kMaxMessageBytes);
      }
      const ObservedClose observed = ObservedCloseOf(*con);
      Finish(shard, con, hdl, observed.code, observed.reason, observed.by);
    });
    server.set_fail_handler([this, &shard](websocketpp::connection_hdl hdl) {
      ConnectionPtr con = shard.server.get_con_from_hdl(hdl);
      const websocketpp::lib::error_code ec = con->get_ec();
      if (con->handshake_expired ||
          ec == websocketpp::error::make_error_code(websocketpp::error::open_handshake_timeout) ||
          ec == websocketpp::transport::error::make_error_code(websocketpp::transport::error::timeout)) {
        CountIn(options_.counters, Limit::kHandshakeTimeout);
        Log(LogLevel::kDebug, "handshake_timeout", {{"error", ec.message()}});
      }
      Finish(shard, con, hdl, websocketpp::close::status::abnormal_close, ec.message(), ClosedBy::kNeither);
    });
    server.set_http_handler([this, &shard](websocketpp::connection_hdl hdl) {
      ConnectionPtr con = shard.server.get_con_from_hdl(hdl);
      std::string path = con->get_resource().substr(0, con->get_resource().find('?'));
      HttpResponse response;
      if (path == kDevicePath) {
        response = {426, "text/plain; charset=utf-8", "WebSocket upgrade required\n"};
      } else {
        response = routes_(path);
      }
      con->set_status(static_cast<websocketpp::http::status_code::value>(response.status));
      con->replace_header("Content-Type", response.content_type);
      con->set_body(response.body);
    });
  }

  // Right after the accept, before the TLS handshake. websocketpp makes a
  // connection, and its TLS stream from the context of that moment, before
  // the accept it waits in; a reload since then must still reach the device
  // that connects next, so the stream moves to the current context here
  // (SSL_set_SSL_CTX takes the certificate and key, and holds a reference of
  // its own, as SNI switching does).
  void AdoptCurrentTlsContext(Shard<Cfg>& shard, websocketpp::connection_hdl hdl) {
    if constexpr (std::is_same_v<Cfg, TlsDeviceConfig>) {
      ConnectionPtr con = shard.server.get_con_from_hdl(hdl);
      const std::shared_ptr<asio::ssl::context> current = options_.tls->current();
      SSL_set_SSL_CTX(con->get_socket().native_handle(), current->native_handle());
    }
  }

  // Right after the accept, before the TLS handshake. A connection still not
  // open at the deadline is dropped: during the TLS handshake by cancelling
  // its socket (the handshake fails), after it as websocketpp's own upgrade
  // timeout does.
  void StartHandshakeDeadline(Shard<Cfg>& shard, websocketpp::connection_hdl hdl) {
    ConnectionPtr con = shard.server.get_con_from_hdl(hdl);
    con->handshake_deadline =
        std::make_shared<asio::steady_timer>(shard.io, absl::ToChronoNanoseconds(options_.handshake_timeout));
    con->handshake_deadline->async_wait([&shard, hdl](const asio::error_code& ec) {
      if (ec) return;  // cancelled: the connection opened or is gone
      websocketpp::lib::error_code gone;
      ConnectionPtr stalled = shard.server.get_con_from_hdl(hdl, gone);
      if (gone || stalled->get_state() != websocketpp::session::state::connecting) return;
      stalled->handshake_expired = true;
      if (stalled->tls_established) {
        stalled->terminate(websocketpp::error::make_error_code(websocketpp::error::open_handshake_timeout));
      } else {
        asio::error_code ignored;
        stalled->get_raw_socket().cancel(ignored);
      }
    });
  }

  bool OnValidate(Shard<Cfg>& shard, websocketpp::connection_hdl hdl) {
    ConnectionPtr con = shard.server.get_con_from_hdl(hdl);
    absl::string_view resource = con->get_resource();
    if (resource.substr(0, resource.find('?')) != kDevicePath) {
      con->set_status(websocketpp::http::status_code::not_found, "devices connect to /v1/devices");
      return false;
    }
    for (const std::string& requested : con->get_requested_subprotocols()) {
      if (std::optional<codec::Dialect> dialect = codec::DialectOfSubprotocol(requested)) {
        con->select_subprotocol(requested);
        con->dialect = *dialect;
        break;
      }
    }
    return true;
  }

  struct ObservedClose {
    int code = 0;
    std::string reason;
    ClosedBy by = ClosedBy::kNeither;
  };

  // Who closed first, and with what, as websocketpp saw it. Both of its
  // codes start as 1006 and are set only by a close frame: the remote one
  // when the device's arrives, the local one when the bridge sends one
  // (first, or as the answer echoing the device's). Every close the bridge
  // starts from a session is known to the session, which reports it instead
  // (websocketpp overwrites its local code with 1006 when the device never
  // answers), so a close frame from the device seen here came first. What is
  // left are websocketpp's own closes for protocol errors (1002, 1007 invalid
  // UTF-8, 1009 message too big): it drops the TCP connection right after
  // sending them, so the device's answer is never read and the remote code
  // stays 1006.
  static ObservedClose ObservedCloseOf(const typename Server<Cfg>::connection_type& con) {
    namespace status = websocketpp::close::status;
    if (con.get_remote_close_code() != status::abnormal_close) {
      // 1005 when the device's close frame carried no code.
      return {con.get_remote_close_code(), con.get_remote_close_reason(), ClosedBy::kDevice};
    }
    if (con.get_local_close_code() != status::abnormal_close) {
      return {con.get_local_close_code(), con.get_local_close_reason(), ClosedBy::kBridge};
    }
    // No close frame either way; websocketpp's local reason says why it ended.
    const std::string& why = con.get_local_close_reason();
    return {status::abnormal_close,
            why.empty() ? std::string("connection lost without a close frame")
                        : absl::StrCat("connection lost without a close frame: ", why),
            ClosedBy::kNeither};
  }

  // The close reason websocketpp gives a frame over --max-message-bytes.
  static const std::string& TooBigReason() {
    static const std::string* const reason = new std::string(
        websocketpp::processor::error::make_error_code(websocketpp::processor::error::message_too_big).message());
    return *reason;
  }

  // Counts a connection against max_connections, unless it is reached.
  bool TakeConnectionPlace() {
    size_t open = open_connections_.load(std::memory_order_relaxed);
    do {
      if (options_.max_connections > 0 && open >= options_.max_connections) return false;
    } while (!open_connections_.compare_exchange_weak(open, open + 1, std::memory_order_relaxed));
    return true;
  }

  void OnOpen(Shard<Cfg>& shard, websocketpp::connection_hdl hdl) {
    ConnectionPtr con = shard.server.get_con_from_hdl(hdl);
    con->handshake_deadline.reset();  // cancels it
    asio::error_code ec;
    const std::string address = FormatAddress(RemoteEndpointOf<Cfg>(con, ec));
    if (!TakeConnectionPlace()) {
      // Never a session: the device learns why from the close, and retries.
      CountIn(options_.counters, Limit::kMaxConnections);
      Log(LogLevel::kDebug, "connection_refused", {{"address", address}, {"reason", "max-connections"}});
      websocketpp::lib::error_code close_ec;
      shard.server.close(hdl, websocketpp::close::status::try_again_later,
                         absl::StrCat("try again later: the bridge is at its connection limit (",
                                      options_.max_connections, ", --max-connections)"),
                         close_ec);
      return;
    }
    con->holds_place = true;
    auto transport = std::make_unique<WebSocketTransport<Cfg>>(shard.server, hdl, shard.io, address);
    con->session = std::make_shared<DeviceSession>(services_, limits_, std::move(transport), con->dialect);
    shard.connections.insert(hdl);
    ++shard.connection_count;
    std::optional<std::string> header_token;
    const std::string& authorization = con->get_request_header("Authorization");
    if (!authorization.empty()) {
      std::optional<absl::string_view> token = codec::ParseBearerCredential(authorization);
      header_token = token.has_value() ? std::string(*token) : std::string();
    }
    con->session->Start(std::move(header_token));
  }

  void Finish(Shard<Cfg>& shard, ConnectionPtr con, websocketpp::connection_hdl hdl, int code,
              const std::string& reason, ClosedBy by) {
    if (con->session != nullptr) {
      con->session->OnClosed(code, reason, by);
      con->session.reset();
    }
    if (shard.connections.erase(hdl) > 0) --shard.connection_count;
    if (std::exchange(con->holds_place, false)) open_connections_.fetch_sub(1, std::memory_order_relaxed);
  }

  const DeviceEndpointOptions options_;
  SessionServices& services_;
  const SessionLimits& limits_;
  const HttpRoutes routes_;
  std::vector<std::unique_ptr<Shard<Cfg>>> shards_;
  int port_ = 0;
  // WebSocket connections holding a place (SessionSlot::holds_place), over
  // every shard.
  std::atomic<size_t> open_connections_{0};
  std::atomic<uint64_t> accept_errors_{0};
};

template <typename Cfg>
absl::StatusOr<std::unique_ptr<DeviceEndpoint>> StartWith(const DeviceEndpointOptions& options,
                                                          SessionServices& services, const SessionLimits& limits,
                                                          HttpRoutes routes) {
  auto endpoint = std::make_unique<DeviceEndpointImpl<Cfg>>(options, services, limits, std::move(routes));
  if (absl::Status status = endpoint->Listen(); !status.ok()) return status;
  return endpoint;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DeviceEndpoint>> DeviceEndpoint::Start(const DeviceEndpointOptions& options,
                                                                      SessionServices& services,
                                                                      const SessionLimits& limits, HttpRoutes routes) {
  if (options.tls != nullptr) return StartWith<TlsDeviceConfig>(options, services, limits, std::move(routes));
  return StartWith<PlainDeviceConfig>(options, services, limits, std::move(routes));
}

}  // namespace hive::server

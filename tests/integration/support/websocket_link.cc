#include "tests/integration/support/websocket_link.h"

#include <openssl/x509.h>

#include <thread>
#include <type_traits>
#include <websocketpp/client.hpp>
#include <websocketpp/config/asio_client.hpp>
#include <websocketpp/config/asio_no_tls_client.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace hive::integration {
namespace {

using PlainConfig = websocketpp::config::asio_client;
using TlsConfig = websocketpp::config::asio_tls_client;

template <typename Config>
class WebSocketLinkImpl final : public WebSocketLink {
 public:
  using Client = websocketpp::client<Config>;

  WebSocketLinkImpl(LinkOptions options, LinkEvents events)
      : options_(std::move(options)), host_(websocketpp::uri(options_.url).get_host()), events_(std::move(events)) {
    client_.clear_access_channels(websocketpp::log::alevel::all);
    client_.clear_error_channels(websocketpp::log::elevel::all);
    client_.init_asio();
    client_.start_perpetual();
    if constexpr (std::is_same_v<Config, TlsConfig>) {
      // Called as get_connection() makes the connection, before it knows
      // its URI: the host comes from options_.url.
      client_.set_tls_init_handler([this](const websocketpp::connection_hdl&) { return MakeTlsContext(); });
    }
    client_.set_open_handler([this](websocketpp::connection_hdl hdl) {
      asio::error_code ec;
      events_.opened(client_.get_con_from_hdl(hdl)->get_raw_socket().local_endpoint(ec).port());
    });
    client_.set_fail_handler([this](websocketpp::connection_hdl hdl) { events_.closed(1006, FailureOf(hdl)); });
    client_.set_close_handler([this](websocketpp::connection_hdl hdl) {
      typename Client::connection_ptr con = client_.get_con_from_hdl(hdl);
      events_.closed(con->get_remote_close_code(), con->get_remote_close_reason());
    });
    client_.set_ping_handler(
        [this](const websocketpp::connection_hdl&, const std::string&) { return options_.answer_pings; });
    client_.set_message_handler(
        [this](const websocketpp::connection_hdl&, const typename Client::message_ptr& message) {
          if (message->get_opcode() == websocketpp::frame::opcode::text) events_.text(message->get_payload());
        });
    io_thread_ = std::thread([this] { client_.run(); });
  }

  ~WebSocketLinkImpl() override {
    client_.stop_perpetual();
    client_.stop();
    io_thread_.join();
  }

  absl::Status Open(const Headers& headers, const std::string& subprotocol) override {
    websocketpp::lib::error_code ec;
    typename Client::connection_ptr con = client_.get_connection(options_.url, ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("bad URL ", options_.url, ": ", ec.message()));
    for (const auto& [name, value] : headers) con->append_header(name, value);
    con->add_subprotocol(subprotocol, ec);
    {
      absl::MutexLock lock(&mu_);
      hdl_ = con->get_handle();
    }
    client_.connect(con);
    return absl::OkStatus();
  }

  void Send(absl::string_view payload, bool binary) override {
    websocketpp::lib::error_code ec;
    client_.send(hdl(), std::string(payload),
                 binary ? websocketpp::frame::opcode::binary : websocketpp::frame::opcode::text, ec);
  }

  // On the I/O thread, as the bridge does: websocketpp's close() writes the
  // connection state under its lock, but the read handler on the I/O thread
  // reads it without (a race TSan reports when a test thread closes).
  void Close(int code, absl::string_view reason) override {
    asio::post(client_.get_io_service(), [this, hdl = hdl(), code, reason = std::string(reason)] {
      websocketpp::lib::error_code ec;
      client_.close(hdl, static_cast<websocketpp::close::status::value>(code), reason, ec);
    });
  }

  void Abort() override {
    asio::post(client_.get_io_service(), [this, hdl = hdl()] {
      websocketpp::lib::error_code ec;
      typename Client::connection_ptr con = client_.get_con_from_hdl(hdl, ec);
      if (ec) return;
      asio::error_code ignored;
      con->get_raw_socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      con->get_raw_socket().close(ignored);
    });
  }

  void RunAfter(absl::Duration delay, std::function<void()> task) override {
    auto timer = std::make_shared<asio::steady_timer>(client_.get_io_service(), absl::ToChronoNanoseconds(delay));
    timer->async_wait([timer, task = std::move(task)](const asio::error_code& ec) {
      if (!ec) task();
    });
  }

 private:
  websocketpp::connection_hdl hdl() {
    absl::MutexLock lock(&mu_);
    return hdl_;
  }

  // Why the connection did not open, as specific as websocketpp and OpenSSL
  // let it be.
  std::string FailureOf(websocketpp::connection_hdl hdl) {
    typename Client::connection_ptr con = client_.get_con_from_hdl(hdl);
    std::string why = con->get_ec().message();
    if (!verify_failure_.empty()) absl::StrAppend(&why, ": ", verify_failure_);
    if (con->get_response_code() != websocketpp::http::status_code::uninitialized) {
      absl::StrAppend(&why, " (HTTP ", con->get_response_code(), ")");
    }
    return why;
  }

  // Verifies the bridge the way a device should: the chain up to the CA and
  // the URL's host among the certificate's names. Runs on the I/O thread.
  std::shared_ptr<asio::ssl::context> MakeTlsContext() {
    verify_failure_.clear();
    auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    asio::error_code ec;
    if (options_.ca_file.empty()) {
      context->set_default_verify_paths(ec);
    } else {
      context->load_verify_file(options_.ca_file, ec);
    }
    if (ec) verify_failure_ = absl::StrCat("cannot load CA ", options_.ca_file, ": ", ec.message());
    context->set_verify_mode(asio::ssl::verify_peer);
    context->set_verify_callback([this](bool preverified, asio::ssl::verify_context& verify) {
      if (asio::ssl::host_name_verification(host_)(preverified, verify)) return true;
      const int error = X509_STORE_CTX_get_error(verify.native_handle());
      verify_failure_ = error != X509_V_OK ? X509_verify_cert_error_string(error)
                                           : absl::StrCat("the certificate does not name ", host_);
      return false;
    });
    return context;
  }

  const LinkOptions options_;
  const std::string host_;
  const LinkEvents events_;
  Client client_;
  std::thread io_thread_;
  // Why the last TLS handshake rejected the bridge's certificate: cleared as
  // Open() makes the connection (before its I/O starts), then written by the
  // verify callback and read by the fail handler on the I/O thread.
  std::string verify_failure_;
  absl::Mutex mu_;
  websocketpp::connection_hdl hdl_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<WebSocketLink> WebSocketLink::Make(LinkOptions options, LinkEvents events) {
  if (absl::StartsWithIgnoreCase(options.url, "wss://")) {
    return std::make_unique<WebSocketLinkImpl<TlsConfig>>(std::move(options), std::move(events));
  }
  return std::make_unique<WebSocketLinkImpl<PlainConfig>>(std::move(options), std::move(events));
}

}  // namespace hive::integration

// bench/ws_echo_server.cc
// The fan-out and connection-scale baseline: a bare websocketpp echo server
// (standalone Asio, websocketpp's stock `config::asio`, as its examples
// build one) that sends every message back on its connection. Access and
// error logging are off, as any server under load would have them.
//
//   ws_echo_server --listen=127.0.0.1:0 --threads=2   # prints "listening port=N"; stops on SIGTERM
#include <cstdio>
#include <exception>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "bench/stop_signal.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "WebSocket address; port 0 lets the kernel pick");
ABSL_FLAG(int, threads, 0, "I/O threads sharing one io_context; 0 = one per core");

namespace hive::bench {
namespace {

using Server = websocketpp::server<websocketpp::config::asio>;

int Run() {
  const std::string listen = absl::GetFlag(FLAGS_listen);
  const size_t colon = listen.rfind(':');
  uint32_t port = 0;
  asio::error_code ec;
  const asio::ip::address address = asio::ip::make_address(listen.substr(0, colon), ec);
  if (colon == std::string::npos || ec || !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port > 65535) {
    std::fprintf(stderr, "ws_echo_server: --listen: expected HOST:PORT, got %s\n", listen.c_str());
    return 2;
  }
  int threads = absl::GetFlag(FLAGS_threads);
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  BlockStopSignals();
  Server server;
  server.clear_access_channels(websocketpp::log::alevel::all);
  server.clear_error_channels(websocketpp::log::elevel::all);
  server.init_asio();
  server.set_reuse_addr(true);
  server.set_message_handler([&server](websocketpp::connection_hdl hdl, const Server::message_ptr& message) {
    websocketpp::lib::error_code ignored;  // the peer is gone: nothing to echo to
    server.send(std::move(hdl), message->get_payload(), message->get_opcode(), ignored);
  });
  server.listen(asio::ip::tcp::endpoint(address, static_cast<uint16_t>(port)), ec);
  if (!ec) server.start_accept(ec);
  if (ec) {
    std::fprintf(stderr, "ws_echo_server: cannot listen on %s: %s\n", listen.c_str(), ec.message().c_str());
    return 1;
  }
  std::printf("listening port=%d\n", server.get_local_endpoint(ec).port());
  std::fflush(stdout);

  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (int i = 0; i < threads; ++i) workers.emplace_back([&server] { server.run(); });
  WaitForStopSignal();
  server.stop_listening(ec);
  server.stop();
  for (std::thread& worker : workers) worker.join();
  return 0;
}

}  // namespace
}  // namespace hive::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  try {
    return hive::bench::Run();
  } catch (const std::exception& e) {  // asio and websocketpp report some failures by throwing
    std::fprintf(stderr, "ws_echo_server: %s\n", e.what());
    return 1;
  }
}

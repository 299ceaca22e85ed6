// transport/single_thread_websocket_config.h
// A websocketpp configuration for endpoints that each run on exactly one
// io_context thread (the bridge's device listeners, the simulator's client
// shares): no locks, no strands, websocketpp's own logging off, and a 4 KiB
// read buffer instead of 16 KiB so an idle connection costs a few KiB.
//
// Why transport/ (target hive_transport): both hivebridge (server/) and
// hive-device-sim (clients/) build their WebSocket endpoints on it, and
// clients share code with the server only through a library both link, never
// by including server/ headers. It does not belong in bridge/, whose library
// (hivebridge_core) knows no sockets. Header-only; what stays per side is the
// per-connection data: server/websocket_config.h (SessionSlot, server only)
// and clients/device_sim/client_config.h.
//
//   using Plain = SingleThreadWebSocketConfig<websocketpp::config::asio>;
//   using WithSlot = SingleThreadWebSocketConfig<websocketpp::config::asio, MySlot>;  // per-connection data
#pragma once

#include <cstddef>
#include <websocketpp/concurrency/none.hpp>
#include <websocketpp/connection_base.hpp>
#include <websocketpp/logger/basic.hpp>
#include <websocketpp/logger/levels.hpp>

namespace hive {

template <typename Base, typename ConnectionBase = websocketpp::connection_base>
struct SingleThreadWebSocketConfig : Base {
  using type = SingleThreadWebSocketConfig;
  using base = Base;

  using concurrency_type = websocketpp::concurrency::none;
  using request_type = typename base::request_type;
  using response_type = typename base::response_type;
  using message_type = typename base::message_type;
  using con_msg_manager_type = typename base::con_msg_manager_type;
  using endpoint_msg_manager_type = typename base::endpoint_msg_manager_type;
  using alog_type = websocketpp::log::basic<concurrency_type, websocketpp::log::alevel>;
  using elog_type = websocketpp::log::basic<concurrency_type, websocketpp::log::elevel>;
  using rng_type = typename base::rng_type;

  struct transport_config : base::transport_config {
    using concurrency_type = typename type::concurrency_type;
    using alog_type = typename type::alog_type;
    using elog_type = typename type::elog_type;
    using request_type = typename type::request_type;
    using response_type = typename type::response_type;
    using socket_type = typename base::transport_config::socket_type;
    static const bool enable_multithreading = false;
  };
  using transport_type = websocketpp::transport::asio::endpoint<transport_config>;

  using connection_base = ConnectionBase;

  static const size_t connection_read_buffer_size = 4096;
  static const websocketpp::log::level elog_level = websocketpp::log::elevel::none;
  static const websocketpp::log::level alog_level = websocketpp::log::alevel::none;
};

}  // namespace hive

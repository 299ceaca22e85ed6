// server/websocket_config.h
// websocketpp configurations for the device endpoint, plain (ws://) and TLS
// (wss://). Each endpoint runs on exactly one io_context thread, so the
// configs drop websocketpp's locks and strands; the read buffer is 4 KiB
// instead of 16 KiB because an idle device should cost a few KiB, not tens.
// Every connection carries its DeviceSession in `connection_base`.
#pragma once

#include <memory>

#include <websocketpp/concurrency/none.hpp>
#include <websocketpp/config/asio.hpp>
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include "bridge/device_session.h"

namespace hive::server {

// Attached to every websocketpp connection: the dialect negotiated at the
// handshake and the session it drives once open.
struct SessionSlot {
  codec::Dialect dialect = codec::Dialect::kStandard;
  std::shared_ptr<DeviceSession> session;
};

template <typename Base>
struct DeviceEndpointConfig : Base {
  using type = DeviceEndpointConfig;
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

  using connection_base = SessionSlot;

  static const size_t connection_read_buffer_size = 4096;
  static const websocketpp::log::level elog_level = websocketpp::log::elevel::none;
  static const websocketpp::log::level alog_level = websocketpp::log::alevel::none;
};

using PlainDeviceConfig = DeviceEndpointConfig<websocketpp::config::asio>;
using TlsDeviceConfig = DeviceEndpointConfig<websocketpp::config::asio_tls>;

}  // namespace hive::server

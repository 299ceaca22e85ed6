// server/websocket_config.h
// websocketpp configurations for the device endpoint, plain (ws://) and TLS
// (wss://): single-threaded endpoints (see single_thread_websocket_config.h)
// whose every connection carries its DeviceSession in `connection_base`.
#pragma once

#include <memory>

#include <websocketpp/config/asio.hpp>
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include "bridge/device_session.h"
#include "server/single_thread_websocket_config.h"

namespace hive::server {

// Attached to every websocketpp connection: the dialect negotiated at the
// handshake and the session it drives once open.
struct SessionSlot {
  codec::Dialect dialect = codec::Dialect::kStandard;
  std::shared_ptr<DeviceSession> session;
  // Whether the connection counts against --max-connections.
  bool holds_place = false;
};

template <typename Base>
using DeviceEndpointConfig = SingleThreadWebSocketConfig<Base, SessionSlot>;

using PlainDeviceConfig = DeviceEndpointConfig<websocketpp::config::asio>;
using TlsDeviceConfig = DeviceEndpointConfig<websocketpp::config::asio_tls>;

}  // namespace hive::server

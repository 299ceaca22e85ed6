// server/websocket_config.h
// websocketpp configurations for the device endpoint, plain (ws://) and TLS
// (wss://): single-threaded endpoints (see transport/single_thread_websocket_config.h)
// whose every connection carries its DeviceSession in `connection_base`.
#pragma once

#include <memory>
#include <websocketpp/config/asio.hpp>
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include "bridge/device_session.h"
#include "transport/single_thread_websocket_config.h"

namespace hive::server {

// Attached to every websocketpp connection: the dialect negotiated at the
// handshake and the session it drives once open.
struct SessionSlot {
  codec::Dialect dialect = codec::Dialect::kStandard;
  std::shared_ptr<DeviceSession> session;
  // Whether the connection counts against --max-connections.
  bool holds_place = false;
  // wss:// only, until the connection opens: --handshake-timeout after the
  // accept, over the TLS handshake and the upgrade (see TlsDeviceConfig).
  std::shared_ptr<asio::steady_timer> handshake_deadline;
  bool tls_established = false;
  // The deadline passed before the connection opened.
  bool handshake_expired = false;
};

template <typename Base>
using DeviceEndpointConfig = SingleThreadWebSocketConfig<Base, SessionSlot>;

using PlainDeviceConfig = DeviceEndpointConfig<websocketpp::config::asio>;
// websocketpp bounds a TLS handshake by a fixed 5 s of its own
// (timeout_socket_post_init) and only then starts the upgrade's timeout, so
// a stalled handshake outlived a shorter --handshake-timeout and a longer one
// was cut at 5 s. Off here: the endpoint bounds the TLS handshake and the
// upgrade after it by one deadline from the accept.
struct TlsDeviceConfig : DeviceEndpointConfig<websocketpp::config::asio_tls> {
  using type = TlsDeviceConfig;
  struct transport_config : DeviceEndpointConfig<websocketpp::config::asio_tls>::transport_config {
    static const long timeout_socket_post_init = 0;
  };
  using transport_type = websocketpp::transport::asio::endpoint<transport_config>;
};

}  // namespace hive::server

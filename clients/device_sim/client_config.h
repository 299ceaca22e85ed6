// clients/device_sim/client_config.h
// websocketpp configurations for the simulator's connections, plain (ws://)
// and TLS (wss://). Each endpoint runs on exactly one thread, which owns its
// share of the devices: the single-threaded config serves (no locks, 4 KiB
// read buffer so 100 000 idle devices fit, websocketpp logging off; the
// simulator logs closes and failures itself).
#pragma once

#include <cstddef>
#include <websocketpp/config/asio_client.hpp>
#include <websocketpp/config/asio_no_tls_client.hpp>

#include "transport/single_thread_websocket_config.h"

namespace hive::sim {

using PlainClientConfig = SingleThreadWebSocketConfig<websocketpp::config::asio_client>;
using TlsClientConfig = SingleThreadWebSocketConfig<websocketpp::config::asio_tls_client>;

}  // namespace hive::sim

// tests/integration/support/tls_peer.h
// Which certificate a TLS server presents to a new connection right now:
// a TLS handshake with 127.0.0.1:`port` that verifies the server against
// `ca_file` for the name localhost (as devices and backends do), then hangs
// up. Tests of certificate rotation compare the common name before and after.
//
//   absl::StatusOr<std::string> cn = ServedCommonName(bridge.ws_port(), certs.path("ca.pem"));
//   absl::StatusOr<std::string> grpc_cn = ServedCommonName(bridge.grpc_port(), ca, "h2");   // gRPC wants ALPN h2
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hive::integration {

// The subject CN of the server's certificate, or why the handshake failed.
absl::StatusOr<std::string> ServedCommonName(int port, const std::string& ca_file, absl::string_view alpn = "");

}  // namespace hive::integration

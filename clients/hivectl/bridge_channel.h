// clients/hivectl/bridge_channel.h
// The gRPC channel hivectl calls the bridge on, as the global options describe
// it: plaintext by default; TLS verifying the bridge against the system's CA
// certificates (--tls) or one CA (--ca), optionally presenting a client
// certificate (--cert/--key, for a bridge started with --grpc-client-ca) and
// expecting another name on the bridge's certificate (--server-name).
//
// The PEM files are read and checked here, before any connection is tried, so
// a missing file, a file with no certificate or key, or a key of another
// certificate is a usage error naming the flag and the file instead of a
// handshake that fails later:
//
//   absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = OpenBridgeChannel(invocation->global);
//   if (!channel.ok()) { /* "--ca: /x.pem: cannot read the file": exit 2 */ }
//
// The bearer token (--token) is not part of the channel: the runner adds it to
// each call's metadata, so it is sent on plaintext channels too (local use).
#pragma once

#include <grpcpp/channel.h>

#include <memory>

#include "absl/status/statusor.h"
#include "clients/hivectl/invocation.h"

namespace hive::ctl {

// INVALID_ARGUMENT naming the flag and the file when a PEM file is unusable.
// The channel connects lazily, on its first call.
absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenBridgeChannel(const GlobalOptions& global);

}  // namespace hive::ctl

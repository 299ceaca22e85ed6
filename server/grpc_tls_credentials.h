// server/grpc_tls_credentials.h
// The gRPC listener's TLS credentials (--grpc-tls-cert, --grpc-tls-key and,
// for mTLS, --grpc-client-ca), reloadable like the device endpoint's
// (server/tls_reloader.h) without restarting the server.
//
// gRPC 1.51 reloads server certificates only through its
// FileWatcherCertificateProvider, which polls files and hands whatever it
// reads to the listener: a garbage or mismatched pair replaces the working
// one and every later handshake fails. So it never watches the operator's
// files. Reload() reads and checks them (transport/tls_files.h) and only a
// good set is published to in-memory files (transport/published_file.h)
// that the provider watches every second; a bad set is refused with an error
// naming the flag and the file, and gRPC keeps the certificate it has. The
// key and chain go into one file, so gRPC can never read the new key with
// the old chain.
//
//   absl::StatusOr<std::unique_ptr<GrpcTlsCredentials>> tls = GrpcTlsCredentials::Load(cert, key, ca);
//   builder.AddListeningPort(listen, (*tls)->credentials(), &port);
//   ... on SIGHUP: absl::Status reloaded = (*tls)->Reload();   // gRPC follows within a second
#pragma once

#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"
#include "transport/published_file.h"
#include "transport/tls_files.h"

namespace hive::server {

class GrpcTlsCredentials {
 public:
  // How often gRPC's provider reads the published files (its minimum).
  static constexpr unsigned kWatchSeconds = 1;

  // Reads and checks the files; an error names the flag and the file.
  // Without `client_ca`, callers are not asked for a certificate.
  static absl::StatusOr<std::unique_ptr<GrpcTlsCredentials>> Load(transport::FlagFile certificate,
                                                                  transport::FlagFile key,
                                                                  std::optional<transport::FlagFile> client_ca);

  std::shared_ptr<grpc::ServerCredentials> credentials() const { return credentials_; }

  // Reads and checks the files again; when good, gRPC serves them to new
  // connections within kWatchSeconds. Otherwise returns why and gRPC keeps
  // what it has. Thread-safe.
  absl::Status Reload();

 private:
  GrpcTlsCredentials(transport::FlagFile certificate, transport::FlagFile key,
                     std::optional<transport::FlagFile> client_ca, std::unique_ptr<transport::PublishedFile> identity,
                     std::unique_ptr<transport::PublishedFile> roots)
      : certificate_(std::move(certificate)),
        key_(std::move(key)),
        client_ca_(std::move(client_ca)),
        identity_(std::move(identity)),
        roots_(std::move(roots)) {}

  const transport::FlagFile certificate_;
  const transport::FlagFile key_;
  const std::optional<transport::FlagFile> client_ca_;
  // Key and chain in one file; the client CA (mTLS) in another, or null.
  const std::unique_ptr<transport::PublishedFile> identity_;
  const std::unique_ptr<transport::PublishedFile> roots_;
  std::shared_ptr<grpc::ServerCredentials> credentials_;
};

}  // namespace hive::server

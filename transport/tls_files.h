// transport/tls_files.h
// Checks the PEM files of a TLS flag pair at start-up, so a missing file, a
// file that holds no certificate or key, or a key that belongs to another
// certificate stops the bridge (or hivectl) with a message naming the flag and
// the file,
// instead of failing every handshake later (the device endpoint loads its
// files per connection; gRPC would only say it cannot listen).
//
//   HIVE_RETURN_IF_ERROR(CheckCertificateAndKey({"tls-cert", config.tls_cert_file}, {"tls-key", config.tls_key_file}));
//   HIVE_RETURN_IF_ERROR(CheckCaCertificates({"grpc-client-ca", config.grpc_client_ca_file}));
#pragma once

#include <string>

#include "absl/status/status.h"

namespace hive::transport {

// A file given by a flag: the flag's name (without "--") and the path.
struct FlagFile {
  std::string flag;
  std::string path;
};

// The certificate chain loads, the private key loads and the two match.
absl::Status CheckCertificateAndKey(const FlagFile& certificate, const FlagFile& key);

// The file holds at least one PEM certificate to verify peers against.
absl::Status CheckCaCertificates(const FlagFile& ca);

}  // namespace hive::transport

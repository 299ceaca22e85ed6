// transport/tls_files.h
// Reads and checks the PEM files of a TLS flag pair, so a missing file, a
// file that holds no certificate or key, or a key that belongs to another
// certificate is an error naming the flag and the file: at start-up it stops
// the bridge (or hivectl); on a reload it is refused and the certificate in
// use keeps serving (tls_context_source.h).
//
// The files are read once into memory and checked there, and what is checked
// is what gets installed: a file replaced between a check and its use could
// otherwise slip an unchecked pair into a listener.
//
//   absl::StatusOr<CertificateAndKey> pair = ReadCertificateAndKey({"tls-cert", cert}, {"tls-key", key});
//   HIVE_RETURN_IF_ERROR(CheckCaCertificates({"grpc-client-ca", config.grpc_client_ca_file}));
#pragma once

#include <openssl/ssl.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace hive::transport {

// A file given by a flag: the flag's name (without "--") and the path.
struct FlagFile {
  std::string flag;
  std::string path;
};

// A certificate chain and its private key, as read from their files, checked:
// the chain parses, the key parses, and the two match.
struct CertificateAndKey {
  std::string certificate_pem;
  std::string key_pem;
};

// Reads both files and checks them. A passphrase-protected key is refused
// (nobody is there to type the passphrase).
absl::StatusOr<CertificateAndKey> ReadCertificateAndKey(const FlagFile& certificate, const FlagFile& key);

// ReadCertificateAndKey without keeping the contents.
absl::Status CheckCertificateAndKey(const FlagFile& certificate, const FlagFile& key);

// Installs a pair ReadCertificateAndKey returned as the identity of `context`
// (leaf, chain and key). Fails only when OpenSSL does (out of memory).
absl::Status UseCertificateAndKey(SSL_CTX* context, const CertificateAndKey& pair);

// Reads the file and checks that it holds at least one PEM certificate to
// verify peers against.
absl::StatusOr<std::string> ReadCaCertificates(const FlagFile& ca);

// ReadCaCertificates without keeping the contents.
absl::Status CheckCaCertificates(const FlagFile& ca);

}  // namespace hive::transport

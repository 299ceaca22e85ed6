#include "server/grpc_tls_credentials.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace hive::server {
namespace {

// The key, then the chain: OpenSSL's PEM readers skip the blocks that are not
// theirs, so gRPC reads the key and the chain from the same file.
std::string IdentityFile(const transport::CertificateAndKey& pair) {
  std::string file = pair.key_pem;
  if (!file.empty() && file.back() != '\n') file += '\n';
  return file + pair.certificate_pem;
}

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcTlsCredentials>> GrpcTlsCredentials::Load(
    transport::FlagFile certificate, transport::FlagFile key, std::optional<transport::FlagFile> client_ca) {
  absl::StatusOr<std::unique_ptr<transport::PublishedFile>> identity =
      transport::PublishedFile::Create("hivebridge-grpc-identity");
  if (!identity.ok()) return identity.status();
  std::unique_ptr<transport::PublishedFile> roots;
  if (client_ca.has_value()) {
    absl::StatusOr<std::unique_ptr<transport::PublishedFile>> file =
        transport::PublishedFile::Create("hivebridge-grpc-client-ca");
    if (!file.ok()) return file.status();
    roots = *std::move(file);
  }
  std::unique_ptr<GrpcTlsCredentials> tls(new GrpcTlsCredentials(
      std::move(certificate), std::move(key), std::move(client_ca), *std::move(identity), std::move(roots)));
  // Published before the provider exists: it reads the files once as it is made.
  if (absl::Status published = tls->Reload(); !published.ok()) return published;

  const std::string identity_path = tls->identity_->path();
  const std::string roots_path = tls->roots_ != nullptr ? tls->roots_->path() : std::string();
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(identity_path, identity_path,
                                                                                       roots_path, kWatchSeconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (tls->roots_ != nullptr) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  tls->credentials_ = grpc::experimental::TlsServerCredentials(options);
  if (tls->credentials_ == nullptr) return absl::InternalError("gRPC could not make its TLS credentials");
  return tls;
}

absl::Status GrpcTlsCredentials::Reload() {
  // Everything is read and checked before anything is published, so a bad
  // CA file does not let a new key through either.
  absl::StatusOr<transport::CertificateAndKey> pair = transport::ReadCertificateAndKey(certificate_, key_);
  if (!pair.ok()) return pair.status();
  std::optional<std::string> roots;
  if (client_ca_.has_value()) {
    absl::StatusOr<std::string> ca = transport::ReadCaCertificates(*client_ca_);
    if (!ca.ok()) return ca.status();
    roots = *std::move(ca);
  }
  if (roots.has_value()) {
    if (absl::Status published = roots_->Publish(*roots); !published.ok()) return published;
  }
  return identity_->Publish(IdentityFile(*pair));
}

}  // namespace hive::server

#include "transport/tls_context_source.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace hive::transport {

absl::StatusOr<std::unique_ptr<TlsContextSource>> TlsContextSource::Load(FlagFile certificate, FlagFile key) {
  absl::StatusOr<std::shared_ptr<asio::ssl::context>> context = Build(certificate, key);
  if (!context.ok()) return context.status();
  return std::unique_ptr<TlsContextSource>(
      new TlsContextSource(std::move(certificate), std::move(key), *std::move(context)));
}

std::shared_ptr<asio::ssl::context> TlsContextSource::current() const {
  absl::MutexLock lock(&mu_);
  return context_;
}

absl::Status TlsContextSource::Reload() {
  absl::StatusOr<std::shared_ptr<asio::ssl::context>> context = Build(certificate_, key_);
  if (!context.ok()) return context.status();
  // The old context is released outside the lock, by whoever holds it last.
  std::shared_ptr<asio::ssl::context> previous;
  {
    absl::MutexLock lock(&mu_);
    previous = std::exchange(context_, *std::move(context));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<asio::ssl::context>> TlsContextSource::Build(const FlagFile& certificate,
                                                                            const FlagFile& key) {
  absl::StatusOr<CertificateAndKey> pair = ReadCertificateAndKey(certificate, key);
  if (!pair.ok()) return pair.status();
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  asio::error_code ec;
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                           asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                           asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                       ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot set the TLS options: ", ec.message()));
  if (absl::Status used = UseCertificateAndKey(context->native_handle(), *pair); !used.ok()) return used;
  return context;
}

}  // namespace hive::transport

#include "transport/tls_files.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"

namespace hive::transport {
namespace {

using SslContext = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;

// The first failure OpenSSL queued on this thread (the cause; later ones
// are the callers giving up); clears the queue.
unsigned long TakeOpensslError() {
  const unsigned long error = ERR_peek_error();
  ERR_clear_error();
  return error;
}

std::string ReasonOf(unsigned long error) {
  const char* reason = ERR_reason_error_string(error);
  return reason != nullptr ? reason : absl::StrCat("OpenSSL error ", error);
}

absl::Status Refuse(const FlagFile& file, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("--", file.flag, ": ", file.path, ": ", problem));
}

absl::Status Readable(const FlagFile& file) {
  if (!std::ifstream(file.path)) return Refuse(file, "cannot read the file");
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckCertificateAndKey(const FlagFile& certificate, const FlagFile& key) {
  if (absl::Status readable = Readable(certificate); !readable.ok()) return readable;
  if (absl::Status readable = Readable(key); !readable.ok()) return readable;
  SslContext context(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
  if (context == nullptr)
    return absl::InternalError(absl::StrCat("cannot make a TLS context: ", ReasonOf(TakeOpensslError())));
  if (SSL_CTX_use_certificate_chain_file(context.get(), certificate.path.c_str()) != 1) {
    return Refuse(certificate, absl::StrCat("not a PEM certificate chain (", ReasonOf(TakeOpensslError()), ")"));
  }
  if (SSL_CTX_use_PrivateKey_file(context.get(), key.path.c_str(), SSL_FILETYPE_PEM) != 1) {
    const unsigned long error = TakeOpensslError();
    if (ERR_GET_LIB(error) == ERR_LIB_X509 && ERR_GET_REASON(error) == X509_R_KEY_VALUES_MISMATCH) {
      return Refuse(key, absl::StrCat("not the private key of --", certificate.flag, " ", certificate.path));
    }
    return Refuse(key, absl::StrCat("not a PEM private key (", ReasonOf(error), ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckCaCertificates(const FlagFile& ca) {
  if (absl::Status readable = Readable(ca); !readable.ok()) return readable;
  SslContext context(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
  if (context == nullptr)
    return absl::InternalError(absl::StrCat("cannot make a TLS context: ", ReasonOf(TakeOpensslError())));
  if (SSL_CTX_load_verify_locations(context.get(), ca.path.c_str(), nullptr) != 1) {
    return Refuse(ca, absl::StrCat("holds no PEM CA certificate (", ReasonOf(TakeOpensslError()), ")"));
  }
  return absl::OkStatus();
}

}  // namespace hive::transport

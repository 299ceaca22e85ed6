#include "transport/tls_files.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace hive::transport {
namespace {

using SslContext = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;
using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
using Certificate = std::unique_ptr<X509, decltype(&X509_free)>;
using PrivateKey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

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

absl::StatusOr<std::string> ReadWhole(const FlagFile& file) {
  std::ifstream in(file.path, std::ios::binary);
  if (!in) return Refuse(file, "cannot read the file");
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return Refuse(file, "cannot read the file");
  return contents.str();
}

Bio MemoryBio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
}

// Answers OpenSSL's request for a passphrase with none, so an encrypted key
// fails to load instead of prompting on the terminal.
int NoPassphrase(char*, int, int, void*) { return 0; }

absl::Status OpensslFailed(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", ReasonOf(TakeOpensslError())));
}

// The leaf, then every further certificate as its chain; true when all of
// `pem` parsed (the end of the input is the only acceptable failure).
bool UseChain(SSL_CTX* context, const std::string& pem) {
  ERR_clear_error();
  Bio bio = MemoryBio(pem);
  if (bio == nullptr) return false;
  Certificate leaf(PEM_read_bio_X509_AUX(bio.get(), nullptr, &NoPassphrase, nullptr), &X509_free);
  if (leaf == nullptr || SSL_CTX_use_certificate(context, leaf.get()) != 1) return false;
  SSL_CTX_clear_chain_certs(context);
  while (X509* next = PEM_read_bio_X509(bio.get(), nullptr, &NoPassphrase, nullptr)) {
    if (SSL_CTX_add0_chain_cert(context, next) != 1) {  // takes `next` only on success
      X509_free(next);
      return false;
    }
  }
  const unsigned long end = ERR_peek_last_error();
  if (ERR_GET_LIB(end) == ERR_LIB_PEM && ERR_GET_REASON(end) == PEM_R_NO_START_LINE) {
    ERR_clear_error();
    return true;
  }
  return end == 0;
}

bool UseKey(SSL_CTX* context, const std::string& pem) {
  Bio bio = MemoryBio(pem);
  if (bio == nullptr) return false;
  PrivateKey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, &NoPassphrase, nullptr), &EVP_PKEY_free);
  return key != nullptr && SSL_CTX_use_PrivateKey(context, key.get()) == 1;
}

// The pair installed in `context`, with errors that name the flag and file
// at fault.
absl::Status Install(SSL_CTX* context, const FlagFile& certificate, const FlagFile& key,
                     const CertificateAndKey& pair) {
  if (!UseChain(context, pair.certificate_pem)) {
    return Refuse(certificate, absl::StrCat("not a PEM certificate chain (", ReasonOf(TakeOpensslError()), ")"));
  }
  if (!UseKey(context, pair.key_pem)) {
    const unsigned long error = TakeOpensslError();
    if (ERR_GET_LIB(error) == ERR_LIB_X509 && ERR_GET_REASON(error) == X509_R_KEY_VALUES_MISMATCH) {
      return Refuse(key, absl::StrCat("not the private key of --", certificate.flag, " ", certificate.path));
    }
    return Refuse(key, absl::StrCat("not a PEM private key (", ReasonOf(error), ")"));
  }
  if (SSL_CTX_check_private_key(context) != 1) {
    ERR_clear_error();
    return Refuse(key, absl::StrCat("not the private key of --", certificate.flag, " ", certificate.path));
  }
  return absl::OkStatus();
}

absl::StatusOr<SslContext> NewServerContext() {
  SslContext context(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
  if (context == nullptr) return OpensslFailed("cannot make a TLS context");
  return context;
}

}  // namespace

absl::StatusOr<CertificateAndKey> ReadCertificateAndKey(const FlagFile& certificate, const FlagFile& key) {
  CertificateAndKey pair;
  absl::StatusOr<std::string> chain = ReadWhole(certificate);
  if (!chain.ok()) return chain.status();
  absl::StatusOr<std::string> key_pem = ReadWhole(key);
  if (!key_pem.ok()) return key_pem.status();
  pair.certificate_pem = *std::move(chain);
  pair.key_pem = *std::move(key_pem);
  absl::StatusOr<SslContext> context = NewServerContext();
  if (!context.ok()) return context.status();
  if (absl::Status installed = Install(context->get(), certificate, key, pair); !installed.ok()) return installed;
  return pair;
}

absl::Status CheckCertificateAndKey(const FlagFile& certificate, const FlagFile& key) {
  return ReadCertificateAndKey(certificate, key).status();
}

absl::Status UseCertificateAndKey(SSL_CTX* context, const CertificateAndKey& pair) {
  if (!UseChain(context, pair.certificate_pem)) return OpensslFailed("cannot install the certificate chain");
  if (!UseKey(context, pair.key_pem)) return OpensslFailed("cannot install the private key");
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadCaCertificates(const FlagFile& ca) {
  absl::StatusOr<std::string> pem = ReadWhole(ca);
  if (!pem.ok()) return pem.status();
  ERR_clear_error();
  Bio bio = MemoryBio(*pem);
  if (bio == nullptr) return OpensslFailed("cannot read a CA file");
  using Infos = std::unique_ptr<STACK_OF(X509_INFO), void (*)(STACK_OF(X509_INFO)*)>;
  Infos infos(PEM_X509_INFO_read_bio(bio.get(), nullptr, &NoPassphrase, nullptr),
              [](STACK_OF(X509_INFO) * stack) { sk_X509_INFO_pop_free(stack, X509_INFO_free); });
  int certificates = 0;
  if (infos != nullptr) {
    for (int i = 0; i < sk_X509_INFO_num(infos.get()); ++i) {
      if (sk_X509_INFO_value(infos.get(), i)->x509 != nullptr) ++certificates;
    }
  }
  if (certificates == 0) {
    const unsigned long error = TakeOpensslError();
    return Refuse(ca, absl::StrCat("holds no PEM CA certificate (",
                                   error != 0 ? ReasonOf(error) : std::string("no certificate in it"), ")"));
  }
  ERR_clear_error();
  return *std::move(pem);
}

absl::Status CheckCaCertificates(const FlagFile& ca) { return ReadCaCertificates(ca).status(); }

}  // namespace hive::transport

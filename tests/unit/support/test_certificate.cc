#include "tests/unit/support/test_certificate.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "tests/unit/support/test_keys.h"

namespace hive::testing {
namespace {

// Test set-up has no sensible way to go on without its certificate.
void Check(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "test certificate generation failed: %s\n", what);
    abort();
  }
}

}  // namespace

TestCertificate MakeSelfSignedCertificate(absl::string_view common_name) {
  const TestKeyPair pair = GenerateEcKey("P-256");
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(BIO_new_mem_buf(pair.private_pem.data(), -1), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  Check(key != nullptr, "PEM_read_bio_PrivateKey");
  std::unique_ptr<X509, decltype(&X509_free)> certificate(X509_new(), &X509_free);
  Check(certificate != nullptr, "X509_new");
  X509_set_version(certificate.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(certificate.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(certificate.get()), 24L * 3600);
  X509_NAME* name = X509_get_subject_name(certificate.get());
  const std::string cn(common_name);
  Check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                   0) == 1,
        "X509_NAME_add_entry_by_txt");
  X509_set_issuer_name(certificate.get(), name);
  X509_set_pubkey(certificate.get(), key.get());
  Check(X509_sign(certificate.get(), key.get(), EVP_sha256()) > 0, "X509_sign");
  std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), &BIO_free);
  Check(PEM_write_bio_X509(out.get(), certificate.get()) == 1, "PEM_write_bio_X509");
  char* data = nullptr;
  const long size = BIO_get_mem_data(out.get(), &data);
  return TestCertificate{std::string(data, static_cast<size_t>(size)), pair.private_pem};
}

std::string ServedCommonName(SSL_CTX* context) {
  X509* certificate = SSL_CTX_get0_certificate(context);
  if (certificate == nullptr) return "";
  char cn[256] = {};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(certificate), NID_commonName, cn, sizeof(cn)) < 0) return "";
  return cn;
}

}  // namespace hive::testing

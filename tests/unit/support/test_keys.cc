#include "tests/unit/support/test_keys.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace hive::testing {
namespace {

struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Test set-up has no sensible way to go on without its keys.
void Check(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "test key generation failed: %s\n", what);
    abort();
  }
}

std::string WritePem(EVP_PKEY* key, bool private_part) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  Check(bio != nullptr, "BIO_new");
  const int ok = private_part ? PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)
                              : PEM_write_bio_PUBKEY(bio.get(), key);
  Check(ok == 1, "PEM_write_bio");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

// Runs keygen on a context prepared by `configure`.
template <typename Configure>
TestKeyPair Generate(int type, Configure configure) {
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_id(type, nullptr));
  Check(ctx != nullptr, "EVP_PKEY_CTX_new_id");
  Check(EVP_PKEY_keygen_init(ctx.get()) == 1, "EVP_PKEY_keygen_init");
  Check(configure(ctx.get()), "configure");
  EVP_PKEY* raw = nullptr;
  Check(EVP_PKEY_keygen(ctx.get(), &raw) == 1, "EVP_PKEY_keygen");
  PkeyPtr key(raw);
  return TestKeyPair{WritePem(key.get(), true), WritePem(key.get(), false)};
}

}  // namespace

TestKeyPair GenerateRsaKey(int bits) {
  return Generate(EVP_PKEY_RSA, [bits](EVP_PKEY_CTX* ctx) { return EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) == 1; });
}

TestKeyPair GenerateEcKey(absl::string_view curve) {
  const std::string name(curve);
  return Generate(EVP_PKEY_EC,
                  [&name](EVP_PKEY_CTX* ctx) { return EVP_PKEY_CTX_set_group_name(ctx, name.c_str()) == 1; });
}

TestKeyPair GenerateEd25519Key() {
  return Generate(EVP_PKEY_ED25519, [](EVP_PKEY_CTX*) { return true; });
}

const TestKeyPair& RsaTestKey() {
  static const TestKeyPair* const key = new TestKeyPair(GenerateRsaKey(2048));
  return *key;
}

const TestKeyPair& EcTestKey() {
  static const TestKeyPair* const key = new TestKeyPair(GenerateEcKey("P-256"));
  return *key;
}

}  // namespace hive::testing

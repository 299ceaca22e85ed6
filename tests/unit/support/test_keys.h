// tests/unit/support/test_keys.h
// Fresh asymmetric key pairs for tests that sign tokens: the private key
// mints, the public key configures the server side. Generated in-process with
// OpenSSL, so no key material is checked in.
//
//   const TestKeyPair& rsa = RsaTestKey();  // cached: RSA generation is slow
//   MintToken("RS256", rsa.private_pem, claims);
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace hive::testing {

struct TestKeyPair {
  std::string private_pem;  // "-----BEGIN PRIVATE KEY-----" (PKCS#8)
  std::string public_pem;   // "-----BEGIN PUBLIC KEY-----" (SubjectPublicKeyInfo)
};

// A new RSA key of `bits` bits.
TestKeyPair GenerateRsaKey(int bits);

// A new EC key on the named curve ("P-256", "P-384", ...).
TestKeyPair GenerateEcKey(absl::string_view curve);

// A new Ed25519 key: a key type JWT authentication does not accept.
TestKeyPair GenerateEd25519Key();

// One 2048-bit RSA and one P-256 key per test binary, generated on first use.
const TestKeyPair& RsaTestKey();
const TestKeyPair& EcTestKey();

}  // namespace hive::testing

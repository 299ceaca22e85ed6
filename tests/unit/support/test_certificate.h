// tests/unit/support/test_certificate.h
// Self-signed certificates made in-process with OpenSSL (P-256 keys, so
// quick), for unit tests of the TLS plumbing; no key material is checked in.
//
//   TestCertificate first = MakeSelfSignedCertificate("first.test");
//   WriteFile(dir + "/cert.pem", first.certificate_pem);
#pragma once

#include <openssl/ssl.h>

#include <string>

#include "absl/strings/string_view.h"

namespace hive::testing {

struct TestCertificate {
  std::string certificate_pem;
  std::string key_pem;  // "-----BEGIN PRIVATE KEY-----" of the certificate
};

// A certificate for CN=`common_name`, signed by its own key.
TestCertificate MakeSelfSignedCertificate(absl::string_view common_name);

// The common name of the certificate `context` serves; "" without one.
std::string ServedCommonName(SSL_CTX* context);

}  // namespace hive::testing

// tests/integration/support/test_certificates.h
// Certificates made by /usr/bin/openssl when a test runs, in a temporary
// directory of their own that the destructor removes:
//
//   ca.pem/.key        a CA ("test-ca")
//   server.pem/.key    signed by the CA for localhost (SAN DNS:localhost,
//                      IP:127.0.0.1): the bridge's, for wss:// and gRPC
//   ops.pem/.key       signed by the CA for CN=ops.backend.internal: a
//                      backend's client certificate (mTLS)
//   rogue.pem/.key     self-signed, also CN=ops.backend.internal: a client
//                      certificate (or a CA to trust) nobody vouches for
//
//   TestCertificates certs;
//   if (::testing::Test::HasFatalFailure()) return;   // openssl failed
//   BridgeProcess::Start({"--tls-cert=" + certs.path("server.pem"), "--tls-key=" + certs.path("server.key")});
#pragma once

#include <string>
#include <vector>

namespace hive::integration {

class TestCertificates {
 public:
  // Runs openssl; a failure is a fatal GoogleTest failure with openssl's output.
  TestCertificates();
  ~TestCertificates();
  TestCertificates(const TestCertificates&) = delete;
  TestCertificates& operator=(const TestCertificates&) = delete;

  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string read(const std::string& name) const;

  // Issues <name>.pem/.key signed by the CA for CN=`cn`, with an optional
  // extension line (like "subjectAltName=..."); a failure is fatal as above.
  // Certificate rotation tests issue the certificate that replaces server.pem.
  void Issue(const std::string& name, const std::string& cn, const std::string& extension);

 private:
  void Run(std::vector<std::string> args);

  std::string dir_;
};

}  // namespace hive::integration

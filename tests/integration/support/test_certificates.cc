#include "tests/integration/support/test_certificates.h"

#include <filesystem>
#include <fstream>

#include "bridge/uuid.h"
#include "gtest/gtest.h"
#include "tests/integration/support/child_process.h"
#include "tests/integration/support/run_command.h"

namespace hive::integration {

TestCertificates::TestCertificates() : dir_(::testing::TempDir() + "/certs-" + NewUuid()) {
  std::filesystem::create_directories(dir_);
  Run({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca", "-keyout", path("ca.key"),
       "-out", path("ca.pem")});
  Issue("server", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1");
  Issue("ops", "ops.backend.internal", "");
  Run({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=ops.backend.internal", "-keyout",
       path("rogue.key"), "-out", path("rogue.pem")});
}

TestCertificates::~TestCertificates() { std::filesystem::remove_all(dir_); }

std::string TestCertificates::read(const std::string& name) const { return ReadFile(path(name)); }

void TestCertificates::Issue(const std::string& name, const std::string& cn, const std::string& extension) {
  Run({"req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + cn, "-keyout", path(name + ".key"), "-out",
       path(name + ".csr")});
  std::vector<std::string> sign = {
      "x509",  "-req", "-in",  path(name + ".csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial",
      "-days", "1",    "-out", path(name + ".pem")};
  if (!extension.empty()) {
    std::ofstream(path(name + ".ext")) << extension << "\n";
    sign.insert(sign.end(), {"-extfile", path(name + ".ext")});
  }
  Run(sign);
}

void TestCertificates::Run(std::vector<std::string> args) {
  if (::testing::Test::HasFatalFailure()) return;
  args.insert(args.begin(), "/usr/bin/openssl");
  absl::StatusOr<int> exit = RunCommand(std::move(args), {"PATH=/usr/bin:/bin"}, path("openssl.log"));
  ASSERT_TRUE(exit.ok()) << exit.status();
  ASSERT_EQ(*exit, 0) << ReadFile(path("openssl.log"));
}

}  // namespace hive::integration

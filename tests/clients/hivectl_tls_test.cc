// hivectl against a hardened bridge: the real hivectl binary calls a real
// hivebridge (started by each test on kernel-picked loopback ports) over gRPC
// with TLS, with mutual TLS and under a backend policy, and `hivectl token`
// mints the token a real device then connects with.
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "bridge/uuid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_process.h"
#include "tests/integration/support/child_process.h"
#include "tests/integration/support/run_command.h"
#include "tests/integration/support/test_certificates.h"
#include "tests/integration/support/test_device.h"

namespace hive::integration {
namespace {

using ::testing::HasSubstr;

constexpr char kOpsToken[] = "ops-token-0123456789abcdef";
// hivectl's exit status for a failed call is 10 + the gRPC code.
constexpr int kExitUnavailable = 10 + 14;
constexpr int kExitUnauthenticated = 10 + 16;
constexpr int kExitUsage = 2;

std::string TempPath(const std::string& name) {
  return absl::StrCat(::testing::TempDir(), "/hivectl-", name, "-", NewUuid());
}

std::string WriteTemp(const std::string& name, const std::string& contents) {
  std::string path = TempPath(name);
  std::ofstream(path) << contents;
  return path;
}

// One finished run of hivectl: its exit status and what it printed (stdout
// and stderr together).
struct HivectlRun {
  int exit = -1;
  std::string output;
};

// Runs hivectl with `args` in an environment of `env` only ("NAME=value").
HivectlRun Hivectl(std::vector<std::string> args, std::vector<std::string> env = {}) {
  const std::string log = TempPath("out");
  args.insert(args.begin(), HIVECTL_BINARY);
  absl::StatusOr<int> exit = RunCommand(std::move(args), std::move(env), log);
  HivectlRun run;
  run.output = ReadFile(log);
  std::remove(log.c_str());
  EXPECT_TRUE(exit.ok()) << exit.status();
  if (exit.ok()) run.exit = *exit;
  return run;
}

std::string Server(const BridgeProcess& bridge, const std::string& host = "127.0.0.1") {
  return absl::StrCat(host, ":", bridge.grpc_port());
}

std::unique_ptr<BridgeProcess> StartBridge(std::vector<std::string> flags) {
  absl::StatusOr<std::unique_ptr<BridgeProcess>> bridge = BridgeProcess::Start(std::move(flags));
  EXPECT_TRUE(bridge.ok()) << bridge.status();
  return bridge.ok() ? *std::move(bridge) : nullptr;
}

TEST(HivectlTlsTest, CallsABridgeOnTlsWhenItTrustsTheCaAndIsRefusedOtherwise) {
  TestCertificates certs;
  if (::testing::Test::HasFatalFailure()) return;
  std::unique_ptr<BridgeProcess> bridge =
      StartBridge({"--grpc-tls-cert=" + certs.path("server.pem"), "--grpc-tls-key=" + certs.path("server.key")});
  ASSERT_NE(bridge, nullptr);

  HivectlRun trusted = Hivectl({"devices", "--server", Server(*bridge), "--ca", certs.path("ca.pem")});
  EXPECT_EQ(trusted.exit, 0) << trusted.output << bridge->Log();
  EXPECT_THAT(trusted.output, HasSubstr("DEVICE"));

  HivectlRun by_name = Hivectl({"devices", "--server", Server(*bridge, "localhost"), "--ca", certs.path("ca.pem"),
                                "--server-name", "localhost"});
  EXPECT_EQ(by_name.exit, 0) << by_name.output;

  HivectlRun plaintext = Hivectl({"devices", "--server", Server(*bridge)});
  EXPECT_EQ(plaintext.exit, kExitUnavailable) << plaintext.output;
  EXPECT_THAT(plaintext.output, HasSubstr("hivectl: UNAVAILABLE: "));

  // The system's CAs (--tls) and a CA nobody signed the bridge with do not vouch for it.
  HivectlRun system_roots = Hivectl({"devices", "--server", Server(*bridge), "--tls"});
  EXPECT_EQ(system_roots.exit, kExitUnavailable) << system_roots.output;
  HivectlRun rogue = Hivectl({"devices", "--server", Server(*bridge), "--ca", certs.path("rogue.pem")});
  EXPECT_EQ(rogue.exit, kExitUnavailable) << rogue.output;

  // The certificate is for localhost and 127.0.0.1, not for another name.
  HivectlRun wrong_name = Hivectl(
      {"devices", "--server", Server(*bridge), "--ca", certs.path("ca.pem"), "--server-name", "bridge.example.org"});
  EXPECT_EQ(wrong_name.exit, kExitUnavailable) << wrong_name.output;
}

TEST(HivectlTlsTest, MutualTlsBridgeAdmitsHivectlOnlyWithItsClientCertificate) {
  TestCertificates certs;
  if (::testing::Test::HasFatalFailure()) return;
  std::unique_ptr<BridgeProcess> bridge =
      StartBridge({"--grpc-tls-cert=" + certs.path("server.pem"), "--grpc-tls-key=" + certs.path("server.key"),
                   "--grpc-client-ca=" + certs.path("ca.pem")});
  ASSERT_NE(bridge, nullptr);

  HivectlRun without = Hivectl({"devices", "--server", Server(*bridge), "--ca", certs.path("ca.pem")});
  EXPECT_EQ(without.exit, kExitUnavailable) << without.output;

  HivectlRun rogue = Hivectl({"devices", "--server", Server(*bridge), "--ca", certs.path("ca.pem"), "--cert",
                              certs.path("rogue.pem"), "--key", certs.path("rogue.key")});
  EXPECT_EQ(rogue.exit, kExitUnavailable) << rogue.output;

  HivectlRun with = Hivectl({"devices", "--server", Server(*bridge), "--ca", certs.path("ca.pem"), "--cert",
                             certs.path("ops.pem"), "--key", certs.path("ops.key")});
  EXPECT_EQ(with.exit, 0) << with.output << bridge->Log();
}

TEST(HivectlTlsTest, UnusablePemFilesAreUsageErrorsNamingTheFlagAndTheFile) {
  TestCertificates certs;
  if (::testing::Test::HasFatalFailure()) return;
  // No bridge: hivectl must stop before it connects anywhere.
  const std::string server = "127.0.0.1:1";

  HivectlRun missing = Hivectl({"devices", "--server", server, "--ca", "/nonexistent/ca.pem"});
  EXPECT_EQ(missing.exit, kExitUsage) << missing.output;
  EXPECT_EQ(missing.output, "hivectl: --ca: /nonexistent/ca.pem: cannot read the file\n");

  HivectlRun not_a_ca = Hivectl({"devices", "--server", server, "--ca", certs.path("ca.key")});
  EXPECT_EQ(not_a_ca.exit, kExitUsage) << not_a_ca.output;
  EXPECT_THAT(not_a_ca.output, HasSubstr(absl::StrCat("hivectl: --ca: ", certs.path("ca.key"), ": ")));

  HivectlRun other_key =
      Hivectl({"devices", "--server", server, "--cert", certs.path("ops.pem"), "--key", certs.path("server.key")});
  EXPECT_EQ(other_key.exit, kExitUsage) << other_key.output;
  EXPECT_THAT(other_key.output, HasSubstr(absl::StrCat("hivectl: --key: ", certs.path("server.key"),
                                                       ": not the private key of --cert ", certs.path("ops.pem"))));

  HivectlRun half = Hivectl({"devices", "--server", server, "--cert", certs.path("ops.pem")});
  EXPECT_EQ(half.exit, kExitUsage) << half.output;
  EXPECT_THAT(half.output, HasSubstr("--cert: needs --key"));
}

TEST(HivectlBackendPolicyTest, RefusedWithoutATokenAdmittedWithTheTokenFlagOrHivectlToken) {
  const std::string policy = WriteTemp("policy", absl::StrCat("ops token:", kOpsToken, " *\n"));
  std::unique_ptr<BridgeProcess> bridge = StartBridge({"--backend-policy-file=" + policy});
  ASSERT_NE(bridge, nullptr);
  const std::string server = Server(*bridge);

  HivectlRun anonymous = Hivectl({"devices", "--server", server});
  EXPECT_EQ(anonymous.exit, kExitUnauthenticated) << anonymous.output;
  EXPECT_THAT(anonymous.output, HasSubstr("hivectl: UNAUTHENTICATED: "));

  HivectlRun flag = Hivectl({"devices", "--server", server, "--token", kOpsToken});
  EXPECT_EQ(flag.exit, 0) << flag.output << bridge->Log();

  HivectlRun env = Hivectl({"devices"}, {"HIVECTL_SERVER=" + server, absl::StrCat("HIVECTL_TOKEN=", kOpsToken)});
  EXPECT_EQ(env.exit, 0) << env.output << bridge->Log();

  // The flag wins over the variable.
  HivectlRun overridden = Hivectl({"devices", "--token", "not-the-token"},
                                  {"HIVECTL_SERVER=" + server, absl::StrCat("HIVECTL_TOKEN=", kOpsToken)});
  EXPECT_EQ(overridden.exit, kExitUnauthenticated) << overridden.output;
  EXPECT_THAT(overridden.output, ::testing::Not(HasSubstr("not-the-token")));
  std::remove(policy.c_str());
}

TEST(HivectlTokenTest, MintedTokenConnectsADeviceAndOneSignedWithAnotherSecretIsRefused) {
  std::unique_ptr<BridgeProcess> bridge = StartBridge({});
  ASSERT_NE(bridge, nullptr);
  const std::string device_id = NewUuid();
  const std::string account_id = NewUuid();
  auto mint = [&](const std::string& secret_file) {
    HivectlRun run = Hivectl({"token", "--jwt-secret-file", secret_file, "--device-id", device_id, "--account",
                              account_id, "--expires-in", "10m"});
    EXPECT_EQ(run.exit, 0) << run.output;
    return std::string(absl::StripTrailingAsciiWhitespace(run.output));
  };

  const std::string secret = WriteTemp("secret", bridge->secret() + "\n");
  TestDevice device({.url = bridge->ws_url(), .device_id = device_id, .account_id = account_id, .token = mint(secret)});
  absl::StatusOr<std::string> authenticated = device.ConnectAndAuthenticate();
  ASSERT_TRUE(authenticated.ok()) << authenticated.status() << bridge->Log();
  HivectlRun listed = Hivectl({"device", device_id, "-o", "json", "--server", Server(*bridge)});
  EXPECT_EQ(listed.exit, 0) << listed.output;
  EXPECT_THAT(listed.output, HasSubstr(account_id));

  const std::string other = WriteTemp("other-secret", std::string(48, 'x'));
  TestDevice impostor(
      {.url = bridge->ws_url(), .device_id = device_id, .account_id = account_id, .token = mint(other)});
  EXPECT_FALSE(impostor.ConnectAndAuthenticate().ok());
  ASSERT_TRUE(impostor.WaitClosed(absl::Seconds(5)));
  EXPECT_EQ(impostor.close_code(), 4401);
  std::remove(secret.c_str());
  std::remove(other.c_str());
}

}  // namespace
}  // namespace hive::integration

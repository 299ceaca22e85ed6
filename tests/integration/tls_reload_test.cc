// Certificate rotation without a restart (server/tls_reloader.h): SIGHUP,
// or the --tls-reload-interval poll, makes the bridge serve a new
// certificate and key to new wss:// devices and gRPC callers, while open
// connections keep theirs and keep working; a broken replacement is refused
// with event=tls_reload_failed naming the file, and the old certificate keeps
// serving. Each test checks the certificate a new TLS session is given.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/child_process.h"
#include "tests/integration/support/test_certificates.h"
#include "tests/integration/support/tls_peer.h"
#include "tests/integration/support/wait_until.h"  // kHangBound, WaitUntil

namespace hive::integration {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// server.pem's common name, and that of the certificate that replaces it
// (signed by the same CA for the same names, so devices accept both).
constexpr char kOldName[] = "localhost";
constexpr char kNewName[] = "rotated.localhost";

class TlsReloadTest : public BridgeTest {
 protected:
  void SetUp() override {
    ASSERT_FALSE(HasFatalFailure()) << "openssl could not make the test certificates";
    certs_.Issue("rotated", kNewName, "subjectAltName=DNS:localhost,IP:127.0.0.1");
    ASSERT_FALSE(HasFatalFailure()) << "openssl could not make the rotated certificate";
    Replace("live.pem", certs_.read("server.pem"));
    Replace("live.key", certs_.read("server.key"));
  }

  void TearDown() override {
    devices_.clear();
    BridgeTest::TearDown();
  }

  // Writes a file of the test's certificate directory as an operator's tool
  // would: a new file renamed over the old one.
  void Replace(const std::string& name, const std::string& contents) {
    const std::string staged = certs_.path(name + ".new");
    std::ofstream(staged, std::ios::binary | std::ios::trunc) << contents;
    std::filesystem::rename(staged, certs_.path(name));
  }

  // live.pem and live.key become the rotated pair.
  void Rotate() {
    Replace("live.pem", certs_.read("rotated.pem"));
    Replace("live.key", certs_.read("rotated.key"));
  }

  std::vector<std::string> WssFlags() {
    return {"--tls-cert=" + certs_.path("live.pem"), "--tls-key=" + certs_.path("live.key")};
  }

  // What a new TLS session on the port is given (verified like a device).
  absl::StatusOr<std::string> ServedOnWss() { return ServedCommonName(bridge().ws_port(), certs_.path("ca.pem")); }
  absl::StatusOr<std::string> ServedOnGrpc() {
    return ServedCommonName(bridge().grpc_port(), certs_.path("ca.pem"), "h2");
  }

  // A device on wss://localhost that trusts the test CA, authenticated and
  // listed.
  TestDevice& ConnectOverTls() {
    DeviceOptions options;
    options.url = absl::StrCat("wss://localhost:", bridge().ws_port(), "/v1/devices");
    options.ca_file = certs_.path("ca.pem");
    options.device_id = NewId();
    options.account_id = NewId();
    options.token = bridge().MintToken(options.device_id, options.account_id);
    options.responder = Responder::Ack();
    devices_.push_back(std::make_unique<TestDevice>(std::move(options)));
    TestDevice& device = *devices_.back();
    absl::StatusOr<std::string> authenticated = device.ConnectAndAuthenticate();
    if (!authenticated.ok()) AbortTest(absl::StrCat(authenticated.status().ToString(), "\n", Log()));
    AwaitListed(device.device_id());
    return device;
  }

  // A stub calling gRPC over TLS, trusting the test CA; its own connection.
  std::unique_ptr<Stub> TlsStub() {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = certs_.read("ca.pem");
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    args.SetInt("grpc.use_local_subchannel_pool", 1);  // a connection of its own
    return hive::bridge::v1::DeviceBridge::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", bridge().grpc_port()), grpc::SslCredentials(options), args));
  }

  // What gRPC's certificate watcher reads in the bridge: its in-memory
  // identity file, found among the process's descriptors (a child of the
  // test, so /proc lets the test read it).
  std::string PublishedGrpcIdentity() {
    const std::string fds = absl::StrCat("/proc/", bridge().pid(), "/fd");
    for (const auto& entry : std::filesystem::directory_iterator(fds)) {
      std::error_code ec;
      const std::filesystem::path target = std::filesystem::read_symlink(entry.path(), ec);
      if (!ec && absl::StrContains(target.string(), "memfd:hivebridge-grpc-identity")) {
        return ReadFile(entry.path().string());
      }
    }
    AbortTest("the bridge holds no in-memory gRPC identity file\n" + Log());
  }

  TestCertificates certs_;

 private:
  std::vector<std::unique_ptr<TestDevice>> devices_;
};

// --- wss:// ------------------------------------------------------------------------

TEST_F(TlsReloadTest, SighupServesTheRotatedCertificateToNewDevicesWhileOpenOnesKeepWorking) {
  std::vector<std::string> flags = WssFlags();
  flags.emplace_back("--tls-reload-interval=0");  // only the signal can do it
  StartOwnBridge(flags);
  TestDevice& before = ConnectOverTls();
  ASSERT_EQ(ServedOnWss().value_or("(failed)"), kOldName);

  Rotate();
  bridge().Signal(SIGHUP);

  ASSERT_TRUE(bridge().WaitForLog("event=tls_reloaded listener=wss trigger=signal", kHangBound)) << Log();
  EXPECT_EQ(ServedOnWss().value_or("(failed)"), kNewName) << Log();
  TestDevice& after = ConnectOverTls();
  ASSERT_TRUE(before.open()) << before.Transcript();
  ExpectAcked(before);
  ExpectAcked(after);
}

struct BrokenReplacementCase {
  std::string name;
  std::string file;      // live.pem or live.key
  std::string contents;  // "" for the key of another certificate (ops.key)
  std::string flag;      // the flag the error names
  std::string problem;
};

class TlsBrokenReplacementTest : public TlsReloadTest, public ::testing::WithParamInterface<BrokenReplacementCase> {};

TEST_P(TlsBrokenReplacementTest, IsRefusedWithALogLineAndTheOldCertificateKeepsServing) {
  std::vector<std::string> flags = WssFlags();
  flags.emplace_back("--tls-reload-interval=0");
  StartOwnBridge(flags);
  TestDevice& before = ConnectOverTls();

  const BrokenReplacementCase& broken = GetParam();
  Replace(broken.file, broken.contents.empty() ? certs_.read("ops.key") : broken.contents);
  bridge().Signal(SIGHUP);

  ASSERT_TRUE(bridge().WaitForLog("event=tls_reload_failed listener=wss trigger=signal", kHangBound)) << Log();
  EXPECT_THAT(Log(),
              HasSubstr(absl::StrCat("error=\"--", broken.flag, ": ", certs_.path(broken.file), ": ", broken.problem)));
  EXPECT_EQ(ServedOnWss().value_or("(failed)"), kOldName) << Log();
  ExpectAcked(ConnectOverTls());
  ExpectAcked(before);
}

INSTANTIATE_TEST_SUITE_P(Replacements, TlsBrokenReplacementTest,
                         ::testing::Values(
                             BrokenReplacementCase{
                                 "GarbageCertificate", "live.pem",
                                 "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
                                 "tls-cert", "not a PEM certificate chain"},
                             BrokenReplacementCase{"KeyOfAnotherCertificate", "live.key", "", "tls-key",
                                                   "not the private key of --tls-cert"},
                             BrokenReplacementCase{"EmptyKey", "live.key", "\n", "tls-key", "not a PEM private key"}),
                         RowName());

TEST_F(TlsReloadTest, PollPicksUpARotationWithoutASignal) {
  std::vector<std::string> flags = WssFlags();
  flags.emplace_back("--tls-reload-interval=1s");
  StartOwnBridge(flags);
  TestDevice& before = ConnectOverTls();
  ASSERT_EQ(ServedOnWss().value_or("(failed)"), kOldName);

  Rotate();

  // (A poll between the two renames refuses the new certificate with the old
  // key; the next one takes the pair.)
  ASSERT_TRUE(bridge().WaitForLog("event=tls_reloaded listener=wss trigger=poll", kHangBound)) << Log();
  // The very next session, on whichever I/O thread: the connection each
  // listener made in advance of its accept must not keep the old certificate.
  EXPECT_EQ(ServedOnWss().value_or("(failed)"), kNewName) << Log();
  ExpectAcked(ConnectOverTls());
  ExpectAcked(before);
}

TEST_F(TlsReloadTest, PollRefusesABrokenFileAndTakesTheFixedOne) {
  std::vector<std::string> flags = WssFlags();
  flags.emplace_back("--tls-reload-interval=1s");
  StartOwnBridge(flags);

  Replace("live.pem", "garbage\n");
  ASSERT_TRUE(bridge().WaitForLog("event=tls_reload_failed listener=wss trigger=poll", kHangBound)) << Log();
  EXPECT_EQ(ServedOnWss().value_or("(failed)"), kOldName) << Log();
  Rotate();

  ASSERT_TRUE(bridge().WaitForLog("event=tls_reloaded listener=wss trigger=poll", kHangBound)) << Log();
  EXPECT_EQ(ServedOnWss().value_or("(failed)"), kNewName) << Log();
}

// --- gRPC ----------------------------------------------------------------------------

TEST_F(TlsReloadTest, GrpcServesTheRotatedCertificateAfterSighupAndRefusesABrokenOne) {
  StartOwnBridge({"--grpc-tls-cert=" + certs_.path("live.pem"), "--grpc-tls-key=" + certs_.path("live.key"),
                  "--tls-reload-interval=0"});
  std::unique_ptr<Stub> before = TlsStub();
  ASSERT_TRUE(ListDevices(*before).ok());
  ASSERT_EQ(ServedOnGrpc().value_or("(failed)"), kOldName);

  Replace("live.key", "garbage\n");
  bridge().Signal(SIGHUP);
  ASSERT_TRUE(bridge().WaitForLog("event=tls_reload_failed listener=grpc trigger=signal", kHangBound)) << Log();
  EXPECT_THAT(Log(), HasSubstr(absl::StrCat("error=\"--grpc-tls-key: ", certs_.path("live.key"))));
  Rotate();
  bridge().Signal(SIGHUP);
  ASSERT_TRUE(bridge().WaitForLog("event=tls_reloaded listener=grpc trigger=signal", kHangBound)) << Log();

  // gRPC's file watcher takes the published pair within a second.
  EXPECT_TRUE(WaitUntil([&] { return ServedOnGrpc().value_or("") == kNewName; },
                        "new gRPC connections get the rotated certificate"))
      << Log();
  grpc::Status old_connection = ListDevices(*before);
  EXPECT_TRUE(old_connection.ok()) << old_connection.error_code() << " " << old_connection.error_message();
  grpc::Status new_connection = ListDevices(*TlsStub());
  EXPECT_TRUE(new_connection.ok()) << new_connection.error_code() << " " << new_connection.error_message();
}

// The refused garbage never reached gRPC: the in-memory file gRPC's watcher
// reads (server/grpc_tls_credentials.h) still holds the old pair, and new
// connections are served the old certificate.
TEST_F(TlsReloadTest, GrpcKeepsServingTheOldCertificateAfterABrokenReplacement) {
  StartOwnBridge({"--grpc-tls-cert=" + certs_.path("live.pem"), "--grpc-tls-key=" + certs_.path("live.key"),
                  "--tls-reload-interval=1s"});
  ASSERT_THAT(PublishedGrpcIdentity(),
              AllOf(HasSubstr(certs_.read("server.pem")), HasSubstr(certs_.read("server.key"))));

  Replace("live.pem", "garbage\n");
  ASSERT_TRUE(bridge().WaitForLog("event=tls_reload_failed listener=grpc trigger=poll", kHangBound)) << Log();

  const std::string published = PublishedGrpcIdentity();
  EXPECT_THAT(published, HasSubstr(certs_.read("server.pem")));
  EXPECT_THAT(published, HasSubstr(certs_.read("server.key")));
  EXPECT_THAT(published, Not(HasSubstr("garbage")));
  EXPECT_EQ(ServedOnGrpc().value_or("(failed)"), kOldName) << Log();
  grpc::Status status = ListDevices(*TlsStub());
  EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
}

}  // namespace
}  // namespace hive::integration

// Devices on wss:// (--tls-cert, --tls-key; docs/SECURITY.md): the bridge's
// certificate comes from a CA openssl makes for the test, and devices verify
// it as real ones do. Over TLS everything works as over ws://; what is not
// TLS, not trusted or never finishes its handshake is dropped without
// disturbing anyone else; bad certificate files stop start-up.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/child_process.h"
#include "tests/integration/support/raw_connection.h"
#include "tests/integration/support/route_case.h"
#include "tests/integration/support/run_command.h"
#include "tests/integration/support/test_certificates.h"

namespace hive::integration {
namespace {

using integration::operator<<;
using ::testing::HasSubstr;

// Bounds a hang only: every wait on it is for something that comes at once.
constexpr absl::Duration kTimeout = absl::Seconds(10);

struct HttpsResponse {
  int status = 0;
  std::string body;
};

class WssTest : public BridgeTest {
 protected:
  void SetUp() override { ASSERT_FALSE(HasFatalFailure()) << "openssl could not make the test certificates"; }

  void TearDown() override {
    devices_.clear();
    BridgeTest::TearDown();
  }

  // A bridge serving wss:// with `certificate` and `key` (from certs_).
  void StartTlsBridge(std::vector<std::string> flags = {}, const std::string& certificate = "server.pem",
                      const std::string& key = "server.key") {
    flags.insert(flags.begin(), {"--tls-cert=" + certs_.path(certificate), "--tls-key=" + certs_.path(key)});
    StartOwnBridge(std::move(flags));
  }

  std::string WssUrl(const std::string& host = "localhost") {
    return absl::StrCat("wss://", host, ":", bridge().ws_port(), "/v1/devices");
  }

  // A device with fresh ids and a valid token at `url`, trusting `ca_file`;
  // not connected yet.
  TestDevice& NewDeviceAt(const std::string& url, const std::string& ca_file,
                          std::optional<Responder> responder = Responder::Ack()) {
    DeviceOptions options;
    options.url = url;
    options.ca_file = ca_file;
    options.device_id = NewId();
    options.account_id = NewId();
    options.token = bridge().MintToken(options.device_id, options.account_id);
    options.responder = std::move(responder);
    devices_.push_back(std::make_unique<TestDevice>(std::move(options)));
    return *devices_.back();
  }

  // A device on wss://`host` that trusts the test CA, authenticated and
  // listed.
  TestDevice& ConnectOverTls(const std::string& host = "localhost",
                             std::optional<Responder> responder = Responder::Ack()) {
    TestDevice& device = NewDeviceAt(WssUrl(host), certs_.path("ca.pem"), std::move(responder));
    absl::StatusOr<std::string> authenticated = device.ConnectAndAuthenticate();
    if (!authenticated.ok()) AbortTest(absl::StrCat(authenticated.status().ToString(), "\n", Log()));
    AwaitListed(device.device_id());
    return device;
  }

  // GET https://localhost:PORT`path` with curl, trusting the test CA.
  HttpsResponse HttpsGet(const std::string& path) {
    const std::string body = certs_.path("body-" + NewId());
    const std::string log = certs_.path("curl-" + NewId() + ".log");
    absl::StatusOr<int> exit = RunCommand(
        {"/usr/bin/curl", "--silent", "--show-error", "--max-time", "3", "--cacert", certs_.path("ca.pem"), "--output",
         body, "--write-out", "%{http_code}", absl::StrCat("https://localhost:", bridge().ws_port(), path)},
        {}, log);
    if (!exit.ok() || *exit != 0) AbortTest(absl::StrCat("curl https ", path, " failed: ", ReadFile(log), "\n", Log()));
    HttpsResponse response;
    if (!absl::SimpleAtoi(ReadFile(log), &response.status)) AbortTest("curl wrote no status: " + ReadFile(log));
    response.body = ReadFile(body);
    return response;
  }

  TestCertificates certs_;

 private:
  std::vector<std::unique_ptr<TestDevice>> devices_;
};

// --- Devices over TLS --------------------------------------------------------------

class WssHostTest : public WssTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(WssHostTest, DeviceAuthenticatesAndItsAckAndResultReachTheCaller) {
  StartTlsBridge();
  TestDevice& device = ConnectOverTls(GetParam(), Responder::AckThenOk(R"({"done":true})"));

  CallResult acked = SendRequest(stub(), RequestTo(device.device_id()));
  EXPECT_TRUE(acked.status.ok()) << acked << "\n" << Log();
  EXPECT_EQ(acked.response.status(), hive::bridge::v1::REQUEST_STATUS_ACKED) << acked;

  CallResult result = SendRequest(stub(), RequestTo(device.device_id(), hive::bridge::v1::WAIT_MODE_RESULT));
  EXPECT_TRUE(result.status.ok()) << result << "\n" << Log();
  EXPECT_EQ(result.response.status(), hive::bridge::v1::REQUEST_STATUS_SUCCEEDED) << result;
  EXPECT_TRUE(result.response.result().fields().at("done").bool_value()) << result;
  EXPECT_EQ(device.received_requests(), 2);
}

// The certificate names both (subjectAltName DNS:localhost, IP:127.0.0.1).
INSTANTIATE_TEST_SUITE_P(Hosts, WssHostTest, ::testing::Values("localhost", "127.0.0.1"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param == "localhost" ? std::string("Localhost") : std::string("LoopbackIp");
                         });

TEST_F(WssTest, DeviceEventReachesASubscriber) {
  StartTlsBridge();
  TestDevice& device = ConnectOverTls();
  EventStream& events = SubscribeTo(device);

  device.Send(MarkedEvent("device-state", "over-tls"));

  std::optional<DeviceEvent> event = events.NextMatching(WithMarker("over-tls"), kTimeout);
  ASSERT_TRUE(event.has_value()) << Log();
  EXPECT_EQ(event->device_id(), device.device_id());
  EXPECT_EQ(event->type(), "device-state");
}

// --- What is not TLS, or not trusted -----------------------------------------------

TEST_F(WssTest, PlainWebSocketOnTheTlsPortFailsAndTheBridgeServesOthers) {
  StartTlsBridge();
  TestDevice& plain = NewDeviceAt(absl::StrCat("ws://127.0.0.1:", bridge().ws_port(), "/v1/devices"), "");

  absl::Status connected = plain.Connect(kTimeout);

  EXPECT_TRUE(absl::IsUnavailable(connected)) << connected << "\n" << plain.Transcript();
  EXPECT_EQ(plain.close_code(), 1006) << plain.Transcript();
  EXPECT_FALSE(GetDevice(stub(), plain.device_id()).ok());
  ExpectAcked(ConnectOverTls());
}

TEST_F(WssTest, PlainHttpOnTheTlsPortGetsNoAnswer) {
  StartTlsBridge();
  absl::StatusOr<RawConnection> http = RawConnection::Open(bridge().ws_port());
  ASSERT_TRUE(http.ok()) << http.status();

  EXPECT_EQ(http->HttpGetStatus("/healthz", kTimeout), -1);
  EXPECT_EQ(HttpsGet("/healthz").status, 200);
}

TEST_F(WssTest, DeviceThatDoesNotTrustTheBridgesCaFailsTheHandshake) {
  StartTlsBridge();
  // The system's CAs never signed the test certificate; nor did a stranger's
  // self-signed certificate taken for a CA.
  for (const std::string& ca_file : {std::string(), certs_.path("rogue.pem")}) {
    TestDevice& device = NewDeviceAt(WssUrl(), ca_file);

    absl::Status connected = device.Connect(kTimeout);

    EXPECT_TRUE(absl::IsUnavailable(connected)) << "trusting " << ca_file << ": " << connected;
    EXPECT_THAT(device.close_reason(), HasSubstr("TLS handshake failed")) << device.Transcript();
    EXPECT_THAT(device.close_reason(), HasSubstr("unable to get local issuer certificate")) << device.Transcript();
    EXPECT_FALSE(GetDevice(stub(), device.device_id()).ok());
  }
  ExpectAcked(ConnectOverTls());
}

// The device side of the check: a certificate the CA signed for another
// name is refused too, so the tests above verify names as well as the chain.
TEST_F(WssTest, DeviceRefusesACertificateForAnotherName) {
  StartTlsBridge({}, "ops.pem", "ops.key");  // CN=ops.backend.internal, no subjectAltName
  TestDevice& device = NewDeviceAt(WssUrl(), certs_.path("ca.pem"));

  EXPECT_TRUE(absl::IsUnavailable(device.Connect(kTimeout))) << device.Transcript();
  EXPECT_THAT(device.close_reason(), HasSubstr("the certificate does not name localhost")) << device.Transcript();
}

// --- Handshake timeout -----------------------------------------------------------

TEST_F(WssTest, TcpConnectionThatNeverStartsTheTlsHandshakeIsDroppedAtTheHandshakeTimeout) {
  StartTlsBridge({"--handshake-timeout=1s"});
  TestDevice& healthy = ConnectOverTls();
  const absl::Time opened = absl::Now();
  absl::StatusOr<RawConnection> stalled = RawConnection::Open(bridge().ws_port());
  ASSERT_TRUE(stalled.ok()) << stalled.status();

  // Not before its time: a close seen while less than the timeout has passed
  // since `opened` came early. (A slow run skips the check, it cannot fail it.)
  const bool closed_early = stalled->WaitClosedByPeer(absl::Milliseconds(200));
  if (absl::Now() - opened < absl::Seconds(1)) {
    EXPECT_FALSE(closed_early) << "closed before its timeout";
  }
  EXPECT_TRUE(stalled->WaitClosedByPeer(absl::Seconds(30))) << Log();  // bounds a hang only

  EXPECT_GE(absl::Now() - opened, absl::Milliseconds(950));
  // Counted as websocketpp finishes with the connection, a moment after the close.
  const std::string counted = "\nhivebridge_limit_refusals_total{limit=\"handshake-timeout\"} 1\n";
  const absl::Time deadline = absl::Now() + kTimeout;
  std::string metrics = HttpsGet("/metrics").body;
  while (!absl::StrContains(metrics, counted) && absl::Now() < deadline) metrics = HttpsGet("/metrics").body;
  EXPECT_THAT(metrics, HasSubstr(counted));
  ExpectAcked(healthy);
}

TEST_F(WssTest, TlsConnectionThatNeverSendsTheUpgradeIsDroppedAtTheHandshakeTimeout) {
  StartTlsBridge({"--handshake-timeout=1s"});
  const std::string log = certs_.path("s_client.log");
  // Completes the TLS handshake, verifying the bridge, then sends nothing
  // and waits (-ign_eof) until the bridge ends the connection.
  absl::StatusOr<int> exit =
      RunCommand({"/usr/bin/openssl", "s_client", "-connect", absl::StrCat("127.0.0.1:", bridge().ws_port()),
                  "-servername", "localhost", "-CAfile", certs_.path("ca.pem"), "-verify_return_error", "-ign_eof"},
                 {}, log, /*timeout=*/absl::Seconds(4));

  ASSERT_TRUE(exit.ok()) << exit.status() << "\n" << ReadFile(log) << "\n" << Log();
  EXPECT_THAT(ReadFile(log), HasSubstr("Verify return code: 0 (ok)"));
  ExpectAcked(ConnectOverTls());
}

// --- HTTP over TLS -----------------------------------------------------------------

class WssHttpsRouteTest : public WssTest, public ::testing::WithParamInterface<RouteCase> {};

TEST_P(WssHttpsRouteTest, AnswersOverHttps) {
  StartTlsBridge();

  HttpsResponse response = HttpsGet(GetParam().path);

  EXPECT_EQ(response.status, GetParam().status) << response.body;
  EXPECT_THAT(response.body, HasSubstr(GetParam().body));
}

INSTANTIATE_TEST_SUITE_P(Routes, WssHttpsRouteTest, ::testing::ValuesIn(ObservabilityRoutes()), RowName());

// --- Bad TLS files -----------------------------------------------------------------

struct BadFilesCase {
  std::string name;
  // --flag=file, the file named within the test's certificate directory.
  std::vector<std::pair<std::string, std::string>> flags;
  // The start-up error, with those file names standing for their paths.
  std::string error;
};

class WssBadFilesTest : public WssTest, public ::testing::WithParamInterface<BadFilesCase> {};

TEST_P(WssBadFilesTest, StopStartUpNamingTheFlagAndTheFile) {
  std::vector<std::string> flags;
  std::vector<std::pair<std::string, std::string>> paths;
  for (const auto& [flag, file] : GetParam().flags) {
    flags.push_back(absl::StrCat("--", flag, "=", certs_.path(file)));
    paths.emplace_back(file, certs_.path(file));
  }

  absl::StatusOr<std::unique_ptr<BridgeProcess>> bridge = BridgeProcess::Start(flags);

  ASSERT_FALSE(bridge.ok());
  EXPECT_THAT(std::string(bridge.status().message()), HasSubstr("exited with status 1 before it started"));
  EXPECT_THAT(std::string(bridge.status().message()),
              HasSubstr(absl::StrCat("event=start_failed error=\"", absl::StrReplaceAll(GetParam().error, paths))));
}

INSTANTIATE_TEST_SUITE_P(
    Files, WssBadFilesTest,
    ::testing::Values(
        BadFilesCase{"MissingCertificate",
                     {{"tls-cert", "missing.pem"}, {"tls-key", "server.key"}},
                     "--tls-cert: missing.pem: cannot read the file"},
        BadFilesCase{"KeyOfAnotherCertificate",
                     {{"tls-cert", "server.pem"}, {"tls-key", "ops.key"}},
                     "--tls-key: ops.key: not the private key of --tls-cert server.pem"},
        BadFilesCase{"KeyForCertificate",
                     {{"tls-cert", "server.key"}, {"tls-key", "server.key"}},
                     "--tls-cert: server.key: not a PEM certificate chain (no start line)"},
        BadFilesCase{"CertificateForKey",
                     {{"tls-cert", "server.pem"}, {"tls-key", "server.pem"}},
                     "--tls-key: server.pem: not a PEM private key"},
        BadFilesCase{"GrpcKeyOfAnotherCertificate",
                     {{"grpc-tls-cert", "server.pem"}, {"grpc-tls-key", "ops.key"}},
                     "--grpc-tls-key: ops.key: not the private key of --grpc-tls-cert server.pem"},
        BadFilesCase{"GrpcClientCaWithoutCertificate",
                     {{"grpc-tls-cert", "server.pem"}, {"grpc-tls-key", "server.key"}, {"grpc-client-ca", "ca.key"}},
                     "--grpc-client-ca: ca.key: holds no PEM CA certificate"}),
    RowName());

}  // namespace
}  // namespace hive::integration

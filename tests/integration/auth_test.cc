// Device authentication end to end (docs/protocol.md §2, §8): both ways of
// presenting a token, every way of failing it (close 4401 with a reason that
// says why), and a second connection of a device replacing the first (4409).
#include <functional>
#include <string>

#include "absl/strings/substitute.h"
#include "absl/time/clock.h"
#include "bridge/codec/compact_keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/json_assertions.h"
#include "tests/unit/support/test_tokens.h"

namespace hive::integration {
namespace {

using integration::operator<<;
using ::testing::HasSubstr;

constexpr int kUnauthorized = 4401;
constexpr int kReplaced = 4409;
constexpr absl::Duration kAuthTimeout = absl::Milliseconds(500);
constexpr absl::Duration kCloseWait = absl::Seconds(3);

class AuthTest : public BridgeTest {
 protected:
  static void SetUpTestSuite() { StartSuiteBridge({"--auth-timeout=500ms"}); }
  static void TearDownTestSuite() { StopSuiteBridge(); }
};

// The reply docs/protocol.md §2 gives, spelled in `dialect`.
std::string AuthenticatedReply(const TestDevice& device) {
  auto key = [&](absl::string_view standard) { return codec::WireKey(standard, device.dialect()); };
  return absl::Substitute(R"({"$0":"hive-backend","$1":"authenticated","$2":"$4","$3":"$5"})", key("service"),
                          key("type"), key("device"), key("account"), device.device_id(), device.account_id());
}

struct AcceptedCase {
  std::string name;
  AuthMode auth;
  codec::Dialect dialect;
};

class AuthAcceptedTest : public AuthTest, public ::testing::WithParamInterface<AcceptedCase> {};

TEST_P(AuthAcceptedTest, BridgeAnswersAuthenticatedWithTheTokensIdentity) {
  TestDevice& device = NewDevice({.auth = GetParam().auth, .dialect = GetParam().dialect});

  absl::StatusOr<std::string> reply = device.ConnectAndAuthenticate();

  ASSERT_TRUE(reply.ok()) << reply.status() << "\n" << Log();
  EXPECT_TRUE(JsonEquals(*reply, AuthenticatedReply(device)));
  AwaitListed(device.device_id());
  EXPECT_TRUE(device.open());
}

INSTANTIATE_TEST_SUITE_P(
    Paths, AuthAcceptedTest,
    ::testing::Values(AcceptedCase{"Header", AuthMode::kHeader, codec::Dialect::kStandard},
                      AcceptedCase{"FirstMessage", AuthMode::kFirstMessage, codec::Dialect::kStandard},
                      AcceptedCase{"HeaderCompact", AuthMode::kHeader, codec::Dialect::kCompact},
                      AcceptedCase{"FirstMessageCompact", AuthMode::kFirstMessage, codec::Dialect::kCompact}),
    RowName());

// The token a rejected case presents, given the bridge's secret and the ids.
using TokenMaker =
    std::function<std::string(const std::string& secret, const std::string& device, const std::string& account)>;

struct RejectedCase {
  std::string name;
  AuthMode auth = AuthMode::kHeader;
  TokenMaker token{};
  // Sent as the first message instead of a token (with AuthMode::kNone).
  std::string first_message{};
  // What the close reason says.
  std::string reason{};
  // Whether the bridge waits out --auth-timeout before closing.
  bool by_timeout = false;
};

std::string Hs256(const std::string& secret, const std::string& device, const std::string& account,
                  absl::Duration valid_for) {
  return hive::testing::MintHs256(secret, device, account, absl::Now() + valid_for);
}

TokenMaker SignedWith(std::string alg, std::function<void(hive::testing::TestClaims&)> adjust = {}) {
  return [alg, adjust](const std::string& secret, const std::string& device, const std::string& account) {
    hive::testing::TestClaims claims;
    claims.sub = device;
    claims.account = account;
    claims.exp = absl::Now() + absl::Hours(1);
    if (adjust) adjust(claims);
    return hive::testing::MintToken(alg, secret, claims);
  };
}

const TokenMaker kOtherSecret = [](const std::string&, const std::string& device, const std::string& account) {
  return Hs256("a different secret, also at least 32 bytes long", device, account, absl::Hours(1));
};
const TokenMaker kExpired = [](const std::string& secret, const std::string& device, const std::string& account) {
  return Hs256(secret, device, account, -absl::Hours(1));
};

class AuthRejectedTest : public AuthTest, public ::testing::WithParamInterface<RejectedCase> {};

TEST_P(AuthRejectedTest, BridgeClosesWith4401SayingWhy) {
  const RejectedCase& c = GetParam();
  const std::string device_id = NewId();
  const std::string account_id = NewId();
  DeviceSpec spec{.device_id = device_id, .account_id = account_id, .auth = c.auth};
  if (c.token) spec.token = c.token(bridge().secret(), device_id, account_id);
  TestDevice& device = NewDevice(spec);

  const absl::Time start = absl::Now();
  ASSERT_TRUE(device.Connect().ok()) << Log();
  if (!c.first_message.empty()) device.Send(c.first_message);

  ASSERT_TRUE(device.WaitClosed(kCloseWait)) << device.Transcript() << "\n" << Log();
  const absl::Duration open_for = absl::Now() - start;
  EXPECT_EQ(device.close_code(), kUnauthorized) << device.Transcript();
  EXPECT_THAT(device.close_reason(), HasSubstr(c.reason));
  EXPECT_FALSE(device.NextOfType("authenticated", absl::ZeroDuration()).has_value()) << device.Transcript();
  // The close reason tells a refusal from the auth timeout; only the
  // timeout's lower bound (it was waited out) is a fact time can show.
  if (c.by_timeout) {
    EXPECT_GE(open_for, kAuthTimeout - absl::Milliseconds(50));
  }
  EXPECT_EQ(GetDevice(stub(), device_id).error_code(), grpc::StatusCode::NOT_FOUND);
}

INSTANTIATE_TEST_SUITE_P(
    Failures, AuthRejectedTest,
    ::testing::Values(
        RejectedCase{.name = "HeaderBadSignature", .token = kOtherSecret, .reason = "signature is invalid"},
        RejectedCase{.name = "FirstMessageBadSignature",
                     .auth = AuthMode::kFirstMessage,
                     .token = kOtherSecret,
                     .reason = "signature is invalid"},
        RejectedCase{.name = "HeaderExpired", .token = kExpired, .reason = "expired"},
        RejectedCase{
            .name = "FirstMessageExpired", .auth = AuthMode::kFirstMessage, .token = kExpired, .reason = "expired"},
        RejectedCase{.name = "WrongAlgorithmHs512", .token = SignedWith("HS512"), .reason = "signed with HS512"},
        RejectedCase{.name = "UnsignedAlgNone", .token = SignedWith("none"), .reason = "alg none"},
        RejectedCase{.name = "NoExpiry",
                     .token = SignedWith("HS256", [](hive::testing::TestClaims& c) { c.exp.reset(); }),
                     .reason = "exp is missing"},
        RejectedCase{
            .name = "NotYetValid",
            .token = SignedWith("HS256", [](hive::testing::TestClaims& c) { c.nbf = absl::Now() + absl::Hours(1); }),
            .reason = "not valid before"},
        RejectedCase{.name = "SubjectNotAUuid",
                     .token = SignedWith("HS256", [](hive::testing::TestClaims& c) { c.sub = "device-7"; }),
                     .reason = "sub must be the device UUID"},
        RejectedCase{.name = "NoAccountClaim",
                     .token = SignedWith("HS256", [](hive::testing::TestClaims& c) { c.account.reset(); }),
                     .reason = "account must be the account UUID"},
        RejectedCase{.name = "NotAJwt",
                     .auth = AuthMode::kFirstMessage,
                     .token = [](const std::string&, const std::string&,
                                 const std::string&) { return std::string("not-a-jwt"); },
                     .reason = "not a well-formed JWT"},
        RejectedCase{.name = "JsonBeforeTheToken",
                     .auth = AuthMode::kNone,
                     .first_message = R"({"type":"device-state","state":"ok"})",
                     .reason = "Bearer"},
        RejectedCase{
            .name = "NoTokenWithinAuthTimeout", .auth = AuthMode::kNone, .reason = "auth timeout", .by_timeout = true}),
    RowName());

TEST_F(AuthTest, SecondConnectionOfADeviceReplacesTheFirst) {
  TestDevice& first = Connect();
  PendingCall on_first(stub(), RequestTo(first.device_id()));
  ASSERT_TRUE(first.NextOfType("device-request", kCloseWait).has_value()) << Log();
  TestDevice& second =
      NewDevice({.device_id = first.device_id(), .account_id = first.account_id(), .responder = Responder::Ack()});

  ASSERT_TRUE(second.ConnectAndAuthenticate().ok()) << Log();

  ASSERT_TRUE(first.WaitClosed(kCloseWait)) << first.Transcript() << "\n" << Log();
  EXPECT_EQ(first.close_code(), kReplaced);
  EXPECT_THAT(first.close_reason(), HasSubstr("replaced"));
  std::optional<CallResult> stranded = on_first.Wait(kCloseWait);
  ASSERT_TRUE(stranded.has_value()) << Log();
  // The first connection received it and closed unanswered: outcome unknown.
  EXPECT_EQ(stranded->status.error_code(), grpc::StatusCode::ABORTED) << *stranded;
  ExpectAcked(second);
  EXPECT_EQ(first.received_requests(), 1);
  EXPECT_EQ(second.received_requests(), 1);
  EXPECT_TRUE(second.open());
}

}  // namespace
}  // namespace hive::integration

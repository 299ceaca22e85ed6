// Tokens never reach the log (docs/SECURITY.md, "Token leak in logs"): a
// bridge at debug level sees valid, forged and expired tokens on both auth
// paths, and a bad frame, and its log holds no token, no token signature and
// not the signing secret.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/unit/support/test_tokens.h"

namespace hive::integration {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kTimeout = absl::Seconds(3);

class LogHygieneTest : public BridgeTest {};

TEST_F(LogHygieneTest, NoTokenSignatureOrSecretIsEverLoggedEvenAtDebugLevel) {
  StartOwnBridge({"--log-level=debug"});
  std::vector<std::string> tokens;
  const auto token_for = [&](const std::string& device, const std::string& account, absl::Duration ttl) {
    tokens.push_back(bridge().MintToken(device, account, ttl));
    return tokens.back();
  };
  const std::string a = NewId(), b = NewId(), account = NewId();
  TestDevice& by_header = Connect({.device_id = a,
                                   .account_id = account,
                                   .responder = Responder::Ack(),
                                   .token = token_for(a, account, absl::Hours(1))});
  Connect({.device_id = b,
           .account_id = account,
           .auth = AuthMode::kFirstMessage,
           .token = token_for(b, account, absl::Hours(1))});
  by_header.Send("{\"type\":");  // a bad frame: logged at debug
  ASSERT_TRUE(by_header.NextOfType("error", kTimeout).has_value());
  ExpectAcked(by_header);

  const std::string c = NewId();
  tokens.push_back(hive::testing::MintHs256("another secret of at least thirty-two bytes", c, account,
                                            absl::Now() + absl::Hours(1)));
  const std::string forged = tokens.back();
  for (AuthMode mode : {AuthMode::kHeader, AuthMode::kFirstMessage}) {
    TestDevice& refused = NewDevice({.device_id = c, .account_id = account, .auth = mode, .token = forged});
    ASSERT_TRUE(refused.Connect().ok()) << Log();
    ASSERT_TRUE(refused.WaitClosed(kTimeout));
    EXPECT_EQ(refused.close_code(), 4401);
  }
  TestDevice& expired =
      NewDevice({.device_id = c, .account_id = account, .token = token_for(c, account, -absl::Hours(1))});
  ASSERT_TRUE(expired.Connect().ok()) << Log();
  ASSERT_TRUE(expired.WaitClosed(kTimeout));
  ASSERT_TRUE(bridge().WaitForLog("device_auth_failed", kTimeout));

  const std::string log = Log();
  EXPECT_THAT(log, HasSubstr("level=debug"));  // debug lines were written
  for (const std::string& token : tokens) {
    EXPECT_THAT(log, Not(HasSubstr(token)));
    EXPECT_THAT(log, Not(HasSubstr(token.substr(token.rfind('.') + 1)))) << "a token's signature is in the log";
  }
  EXPECT_THAT(log, Not(HasSubstr(bridge().secret())));
}

}  // namespace
}  // namespace hive::integration

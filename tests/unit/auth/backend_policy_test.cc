#include "bridge/auth/backend_policy.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hive {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAccountA[] = "8813b625-1a2b-4c3d-9e8f-001122334455";
constexpr char kAccountB[] = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
// `echo -n billing-token-0123456789 | sha256sum`
constexpr char kBillingDigest[] = "170d1e5acd735be6d20f134982b5d46d5be8ccce38576907543f7d08fdcd52c2";

std::string Message(const absl::Status& status) { return std::string(status.message()); }

TEST(BackendPolicy, GrantsTheAccountsOfTheCallersLine) {
  absl::StatusOr<BackendPolicy> policy = BackendPolicy::Parse(
      absl::StrCat("# caller credential accounts\n", "billing token:billing-token-0123456789 ", kAccountA, ",",
                   kAccountB, "\n", "ops cert:ops.backend.internal *   # every account\n"));
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->size(), 2u);

  absl::StatusOr<BackendGrant> billing = policy->Admit({.bearer_token = "billing-token-0123456789"});
  ASSERT_TRUE(billing.ok()) << billing.status();
  EXPECT_EQ(billing->caller(), "billing");
  EXPECT_TRUE(billing->Allows(kAccountA));
  EXPECT_FALSE(billing->Allows("11111111-1111-4111-8111-111111111111"));
  EXPECT_THAT(billing->accounts(), ElementsAre(kAccountB, kAccountA));

  absl::StatusOr<BackendGrant> ops = policy->Admit({.certificate_name = "ops.backend.internal"});
  ASSERT_TRUE(ops.ok()) << ops.status();
  EXPECT_TRUE(ops->all_accounts());
  EXPECT_TRUE(ops->Allows(kAccountB));
}

TEST(BackendPolicy, StoredDigestAdmitsTheTokenItHashesAndNoOther) {
  absl::StatusOr<BackendPolicy> policy =
      BackendPolicy::Parse(absl::StrCat("billing token-sha256:", absl::AsciiStrToUpper(kBillingDigest), " *\n"));
  ASSERT_TRUE(policy.ok()) << policy.status();
  absl::StatusOr<BackendGrant> grant = policy->Admit({.bearer_token = "billing-token-0123456789"});
  ASSERT_TRUE(grant.ok()) << grant.status();
  EXPECT_EQ(grant->caller(), "billing");
  EXPECT_EQ(policy->Admit({.bearer_token = "billing-token-0123456780"}).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(BackendPolicy, UnknownOrMissingCredentialIsUnauthenticatedWithoutEchoingTheToken) {
  absl::StatusOr<BackendPolicy> policy = BackendPolicy::Parse("a token:billing-token-0123456789 *\n");
  ASSERT_TRUE(policy.ok());
  absl::Status unknown = policy->Admit({.bearer_token = "guessed-token-abcdefgh"}).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(Message(unknown), Not(HasSubstr("guessed")));
  absl::Status missing = policy->Admit({}).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(Message(missing), HasSubstr("bearer token"));
  absl::Status stranger = policy->Admit({.certificate_name = "stranger"}).status();
  EXPECT_THAT(Message(stranger), HasSubstr("\"stranger\" is not granted"));
}

struct BadLine {
  const char* text;
  const char* message;
};

TEST(BackendPolicy, BadLinesAreRefusedNamingTheLineAndTheProblem) {
  for (const BadLine& bad : {
           BadLine{"a token:short *", "line 1: token: shorter than 16 characters"},
           BadLine{"\n\na secret *", "line 3: credential must start with"},
           BadLine{"a token-sha256:abc *", "line 1: token-sha256: expected 64 hex digits"},
           BadLine{"a cert:x not-a-uuid", "line 1: account \"not-a-uuid\" is not a UUID"},
           BadLine{"a cert:x", "line 1: expected: caller credential accounts"},
           BadLine{"a cert:x *\nb cert:x *", "line 2: credential of \"b\" is already granted"},
       }) {
    absl::StatusOr<BackendPolicy> policy = BackendPolicy::Parse(bad.text);
    ASSERT_FALSE(policy.ok()) << bad.text;
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(policy.status()), HasSubstr(bad.message)) << bad.text;
  }
}

}  // namespace
}  // namespace hive

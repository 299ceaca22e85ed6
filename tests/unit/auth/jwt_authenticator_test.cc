#include "bridge/auth/jwt_authenticator.h"

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "bridge/auth/auth_failure.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/support/fake_clock.h"
#include "tests/unit/support/test_keys.h"
#include "tests/unit/support/test_tokens.h"

namespace hive {
namespace {

using ::hive::testing::EcTestKey;
using ::hive::testing::FakeClock;
using ::hive::testing::GenerateEcKey;
using ::hive::testing::GenerateEd25519Key;
using ::hive::testing::GenerateRsaKey;
using ::hive::testing::MintHs256;
using ::hive::testing::MintToken;
using ::hive::testing::RsaTestKey;
using ::hive::testing::TestClaims;

constexpr absl::string_view kSecret = "0123456789abcdef0123456789abcdef-device-secret";
constexpr absl::string_view kDevice = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
constexpr absl::string_view kAccount = "0a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d";

class JwtAuthenticatorTest : public ::testing::Test {
 protected:
  std::unique_ptr<JwtAuthenticator> Hs256() {
    absl::StatusOr<std::unique_ptr<JwtAuthenticator>> auth =
        JwtAuthenticator::FromHs256Secret(std::string(kSecret), clock_);
    EXPECT_TRUE(auth.ok()) << auth.status();
    return auth.ok() ? *std::move(auth) : nullptr;
  }

  std::unique_ptr<JwtAuthenticator> FromPem(const std::string& pem) {
    absl::StatusOr<std::unique_ptr<JwtAuthenticator>> auth = JwtAuthenticator::FromPublicKeyPem(pem, clock_);
    EXPECT_TRUE(auth.ok()) << auth.status();
    return auth.ok() ? *std::move(auth) : nullptr;
  }

  // Claims that pass every rule: an hour left to live.
  TestClaims ValidClaims() const {
    TestClaims claims;
    claims.sub = std::string(kDevice);
    claims.account = std::string(kAccount);
    claims.exp = clock_.Now() + absl::Hours(1);
    return claims;
  }

  // Expects UNAUTHENTICATED with exactly `message` from the HS256
  // authenticator, carrying `reason` (what /metrics counts it as).
  void ExpectHs256Rejects(const std::string& token, absl::string_view message, AuthFailure reason) {
    const absl::Status status = Hs256()->Authenticate(token).status();
    EXPECT_EQ(status, AuthError(reason, message));
    EXPECT_EQ(AuthFailureName(AuthFailureOf(status)), AuthFailureName(reason)) << message;
  }

  FakeClock clock_;
};

TEST_F(JwtAuthenticatorTest, AcceptsHs256TokenAndReturnsIdentity) {
  const absl::Time exp = clock_.Now() + absl::Hours(1);
  absl::StatusOr<DeviceIdentity> identity = Hs256()->Authenticate(MintHs256(kSecret, kDevice, kAccount, exp));
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(identity->device_id, kDevice);
  EXPECT_EQ(identity->account_id, kAccount);
  EXPECT_EQ(identity->expires_at, exp);
}

TEST_F(JwtAuthenticatorTest, ReturnsIdsInLowercase) {
  const std::string token = MintHs256(kSecret, "6F1C2A3B-4D5E-4F60-8A7B-9C0D1E2F3A4B",
                                      "0A1B2C3D-4E5F-4A6B-9C7D-8E9F0A1B2C3D", clock_.Now() + absl::Hours(1));
  absl::StatusOr<DeviceIdentity> identity = Hs256()->Authenticate(token);
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(identity->device_id, kDevice);
  EXPECT_EQ(identity->account_id, kAccount);
}

TEST_F(JwtAuthenticatorTest, AcceptsRs256TokenWithRsaPublicKey) {
  std::unique_ptr<JwtAuthenticator> auth = FromPem(RsaTestKey().public_pem);
  ASSERT_NE(auth, nullptr);
  EXPECT_EQ(auth->algorithm(), "RS256");
  absl::StatusOr<DeviceIdentity> identity =
      auth->Authenticate(MintToken("RS256", RsaTestKey().private_pem, ValidClaims()));
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(identity->device_id, kDevice);
}

TEST_F(JwtAuthenticatorTest, AcceptsEs256TokenWithP256PublicKey) {
  std::unique_ptr<JwtAuthenticator> auth = FromPem(EcTestKey().public_pem);
  ASSERT_NE(auth, nullptr);
  EXPECT_EQ(auth->algorithm(), "ES256");
  absl::StatusOr<DeviceIdentity> identity =
      auth->Authenticate(MintToken("ES256", EcTestKey().private_pem, ValidClaims()));
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(identity->account_id, kAccount);
}

TEST_F(JwtAuthenticatorTest, RejectsTokenSignedWithAnotherSecret) {
  ExpectHs256Rejects(MintToken("HS256", "another-secret-that-is-also-32-bytes-long", ValidClaims()),
                     "token signature is invalid", AuthFailure::kSignature);
}

TEST_F(JwtAuthenticatorTest, RejectsTamperedPayload) {
  TestClaims other = ValidClaims();
  other.sub = "11111111-2222-4333-8444-555555555555";
  const std::vector<std::string> genuine = absl::StrSplit(MintToken("HS256", kSecret, ValidClaims()), '.');
  const std::vector<std::string> forged = absl::StrSplit(MintToken("HS256", kSecret, other), '.');
  ExpectHs256Rejects(absl::StrCat(genuine[0], ".", forged[1], ".", genuine[2]), "token signature is invalid",
                     AuthFailure::kSignature);
}

TEST_F(JwtAuthenticatorTest, RejectsExpiredToken) {
  TestClaims claims = ValidClaims();
  claims.exp = clock_.Now() - absl::Minutes(1);
  ExpectHs256Rejects(MintToken("HS256", kSecret, claims), "token expired at 2023-11-14T22:12:20+00:00",
                     AuthFailure::kExpired);
}

TEST_F(JwtAuthenticatorTest, AcceptsExpiredTokenWithinLeewayAndRejectsAtItsEnd) {
  TestClaims claims = ValidClaims();
  claims.exp = clock_.Now() - absl::Seconds(29);
  EXPECT_TRUE(Hs256()->Authenticate(MintToken("HS256", kSecret, claims)).ok());
  claims.exp = clock_.Now() - absl::Seconds(30);
  ExpectHs256Rejects(MintToken("HS256", kSecret, claims), "token expired at 2023-11-14T22:12:50+00:00",
                     AuthFailure::kExpired);
}

TEST_F(JwtAuthenticatorTest, LeewayIsAnOption) {
  JwtAuthenticatorOptions no_leeway;
  no_leeway.leeway = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<JwtAuthenticator>> strict =
      JwtAuthenticator::FromHs256Secret(std::string(kSecret), clock_, no_leeway);
  ASSERT_TRUE(strict.ok()) << strict.status();
  TestClaims claims = ValidClaims();
  claims.exp = clock_.Now();
  EXPECT_EQ((*strict)->Authenticate(MintToken("HS256", kSecret, claims)).status().code(),
            absl::StatusCode::kUnauthenticated);
  claims.exp = clock_.Now() + absl::Seconds(1);
  EXPECT_TRUE((*strict)->Authenticate(MintToken("HS256", kSecret, claims)).ok());
  clock_.Advance(absl::Seconds(1));
  EXPECT_FALSE((*strict)->Authenticate(MintToken("HS256", kSecret, claims)).ok());
}

TEST_F(JwtAuthenticatorTest, RejectsNegativeLeeway) {
  JwtAuthenticatorOptions negative;
  negative.leeway = -absl::Seconds(1);
  absl::StatusOr<std::unique_ptr<JwtAuthenticator>> auth =
      JwtAuthenticator::FromHs256Secret(std::string(kSecret), clock_, negative);
  EXPECT_EQ(auth.status(), absl::InvalidArgumentError("JWT leeway must not be negative"));
}

TEST_F(JwtAuthenticatorTest, RejectsTokenWithoutExp) {
  TestClaims claims = ValidClaims();
  claims.exp.reset();
  ExpectHs256Rejects(MintToken("HS256", kSecret, claims), "token claim exp is missing", AuthFailure::kExpired);
}

TEST_F(JwtAuthenticatorTest, RejectsExpThatIsNotANumber) {
  TestClaims claims = ValidClaims();
  claims.exp.reset();
  claims.extra_json = R"({"exp": "1700003600"})";
  ExpectHs256Rejects(MintToken("HS256", kSecret, claims), "token claim exp must be a number (seconds since the epoch)",
                     AuthFailure::kClaims);
}

TEST_F(JwtAuthenticatorTest, AcceptsFractionalExp) {
  TestClaims claims = ValidClaims();
  claims.exp.reset();
  claims.extra_json = R"({"exp": 1700003600.5})";
  absl::StatusOr<DeviceIdentity> identity = Hs256()->Authenticate(MintToken("HS256", kSecret, claims));
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(identity->expires_at, absl::FromUnixMillis(1700003600500));
}

TEST_F(JwtAuthenticatorTest, RejectsTokenNotYetValid) {
  TestClaims claims = ValidClaims();
  claims.nbf = clock_.Now() + absl::Minutes(5);
  ExpectHs256Rejects(MintToken("HS256", kSecret, claims), "token is not valid before 2023-11-14T22:18:20+00:00",
                     AuthFailure::kNotYetValid);
}

TEST_F(JwtAuthenticatorTest, AcceptsNbfWithinLeeway) {
  TestClaims claims = ValidClaims();
  claims.nbf = clock_.Now() + absl::Seconds(30);
  EXPECT_TRUE(Hs256()->Authenticate(MintToken("HS256", kSecret, claims)).ok());
}

TEST_F(JwtAuthenticatorTest, RejectsSubThatIsNotAUuid) {
  TestClaims claims = ValidClaims();
  claims.sub = "device-42";
  ExpectHs256Rejects(MintToken("HS256", kSecret, claims), "token claim sub must be the device UUID",
                     AuthFailure::kClaims);
  claims.sub.reset();
  ExpectHs256Rejects(MintToken("HS256", kSecret, claims), "token claim sub must be the device UUID",
                     AuthFailure::kClaims);
  claims.extra_json = R"({"sub": 42})";
  ExpectHs256Rejects(MintToken("HS256", kSecret, claims), "token claim sub must be the device UUID",
                     AuthFailure::kClaims);
}

TEST_F(JwtAuthenticatorTest, RejectsMissingOrInvalidAccount) {
  TestClaims claims = ValidClaims();
  claims.account.reset();
  ExpectHs256Rejects(MintToken("HS256", kSecret, claims), "token claim account must be the account UUID",
                     AuthFailure::kClaims);
  claims.account = "acme";
  ExpectHs256Rejects(MintToken("HS256", kSecret, claims), "token claim account must be the account UUID",
                     AuthFailure::kClaims);
}

TEST_F(JwtAuthenticatorTest, RejectsUnsignedToken) {
  ExpectHs256Rejects(MintToken("none", "", ValidClaims()), "token is unsigned (alg none)", AuthFailure::kAlgorithm);
}

// The classic confusion: a verifier that lets the token pick the algorithm
// checks this HMAC with the (public) PEM as the secret, and it verifies.
TEST_F(JwtAuthenticatorTest, RejectsHs256TokenKeyedWithThePublicKeyAgainstRs256) {
  const std::string& pem = RsaTestKey().public_pem;
  const std::string forged = MintToken("HS256", pem, ValidClaims());
  jwt_t* naive = nullptr;
  ASSERT_EQ(jwt_decode(&naive, forged.c_str(), reinterpret_cast<const unsigned char*>(pem.data()),
                       static_cast<int>(pem.size())),
            0)
      << "the forged token should fool a verifier that trusts its header";
  jwt_free(naive);

  absl::StatusOr<DeviceIdentity> identity = FromPem(pem)->Authenticate(forged);
  EXPECT_EQ(identity.status(),
            AuthError(AuthFailure::kAlgorithm, "token is signed with HS256; only RS256 is accepted"));
}

TEST_F(JwtAuthenticatorTest, RejectsHs512TokenAgainstHs256) {
  ExpectHs256Rejects(MintToken("HS512", kSecret, ValidClaims()), "token is signed with HS512; only HS256 is accepted",
                     AuthFailure::kAlgorithm);
}

TEST_F(JwtAuthenticatorTest, RejectsRs256TokenAgainstEs256) {
  absl::StatusOr<DeviceIdentity> identity =
      FromPem(EcTestKey().public_pem)->Authenticate(MintToken("RS256", RsaTestKey().private_pem, ValidClaims()));
  EXPECT_EQ(identity.status(),
            AuthError(AuthFailure::kAlgorithm, "token is signed with RS256; only ES256 is accepted"));
}

TEST_F(JwtAuthenticatorTest, RejectsUnknownAlgorithmAsMalformed) {
  // {"alg":"XX999","typ":"JWT"} over a valid payload.
  const std::vector<std::string> parts = absl::StrSplit(MintToken("HS256", kSecret, ValidClaims()), '.');
  ExpectHs256Rejects(absl::StrCat("eyJhbGciOiJYWDk5OSIsInR5cCI6IkpXVCJ9.", parts[1], ".", parts[2]),
                     "token is not a well-formed JWT", AuthFailure::kMalformed);
}

// Found by fuzz/jwt_claims_fuzzer: libjwt reads "Hs256" as HS256, but
// algorithm names are case-sensitive (RFC 7515 §4.1.1).
TEST_F(JwtAuthenticatorTest, RejectsAlgorithmNameInAnotherCase) {
  const std::vector<std::string> parts = absl::StrSplit(MintToken("HS256", kSecret, ValidClaims()), '.');
  const std::string signing_input =
      absl::StrCat(absl::WebSafeBase64Escape(R"({"alg":"Hs256","typ":"JWT"})"), ".", parts[1]);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  ASSERT_NE(HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
                 reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac, &mac_size),
            nullptr);
  const std::string signature(reinterpret_cast<const char*>(mac), mac_size);
  ExpectHs256Rejects(absl::StrCat(signing_input, ".", absl::WebSafeBase64Escape(signature)),
                     "token is signed with an unknown algorithm; only HS256 is accepted", AuthFailure::kAlgorithm);
}

TEST_F(JwtAuthenticatorTest, RejectsGarbage) {
  for (const char* garbage : {"", "garbage", "a.b", "a.b.c", "a.b.c.d", "!!.??.**", "eyJhbGciOiJIUzI1NiJ9..sig",
                              "eyJhbGciOiJIUzI1NiJ9.e30.sig\n"}) {
    SCOPED_TRACE(garbage);
    ExpectHs256Rejects(garbage, "token is not a well-formed JWT", AuthFailure::kMalformed);
  }
}

TEST_F(JwtAuthenticatorTest, RejectsTokenWithEmbeddedNul) {
  std::string token = MintToken("HS256", kSecret, ValidClaims());
  token.push_back('\0');
  token += "trailer";
  ExpectHs256Rejects(token, "token is not a well-formed JWT", AuthFailure::kMalformed);
}

TEST_F(JwtAuthenticatorTest, RejectsOversizedToken) {
  ExpectHs256Rejects(std::string(8193, 'a'), "token is longer than 8192 bytes", AuthFailure::kMalformed);
}

TEST_F(JwtAuthenticatorTest, RejectsEmptyOrShortSecret) {
  EXPECT_EQ(JwtAuthenticator::FromHs256Secret("", clock_).status(),
            absl::InvalidArgumentError("HS256 secret is empty"));
  EXPECT_EQ(JwtAuthenticator::FromHs256Secret(std::string(31, 'k'), clock_).status(),
            absl::InvalidArgumentError("HS256 secret is 31 bytes; it must be at least 32 bytes"));
  EXPECT_TRUE(JwtAuthenticator::FromHs256Secret(std::string(32, 'k'), clock_).ok());
}

TEST_F(JwtAuthenticatorTest, RejectsPemThatIsNotAPublicKey) {
  const absl::Status not_a_key =
      absl::InvalidArgumentError("public key is not a PEM public key (expected -----BEGIN PUBLIC KEY-----)");
  EXPECT_EQ(JwtAuthenticator::FromPublicKeyPem("", clock_).status(), not_a_key);
  EXPECT_EQ(JwtAuthenticator::FromPublicKeyPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", clock_)
                .status(),
            not_a_key);
  EXPECT_EQ(JwtAuthenticator::FromPublicKeyPem(RsaTestKey().private_pem, clock_).status(), not_a_key);
}

TEST_F(JwtAuthenticatorTest, RejectsUnsupportedKeys) {
  EXPECT_EQ(JwtAuthenticator::FromPublicKeyPem(GenerateRsaKey(1024).public_pem, clock_).status(),
            absl::InvalidArgumentError("RSA public key has 1024 bits; RS256 needs at least 2048"));
  EXPECT_EQ(JwtAuthenticator::FromPublicKeyPem(GenerateEcKey("P-384").public_pem, clock_).status(),
            absl::InvalidArgumentError("EC public key is on curve secp384r1; ES256 needs P-256"));
  EXPECT_EQ(
      JwtAuthenticator::FromPublicKeyPem(GenerateEd25519Key().public_pem, clock_).status(),
      absl::InvalidArgumentError("public key type ED25519 is not supported; use RSA (RS256) or EC P-256 (ES256)"));
}

}  // namespace
}  // namespace hive

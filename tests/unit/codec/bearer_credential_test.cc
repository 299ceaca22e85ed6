#include "bridge/codec/bearer_credential.h"

#include <optional>
#include <string>

#include "gtest/gtest.h"

namespace hive::codec {
namespace {

constexpr char kJwt[] = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkODhmMzIyZiIsImFjY291bnQiOiI4ODEzYjYyNSJ9.c2lnbmF0dXJl";

std::string TokenOf(const std::string& text) {
  std::optional<absl::string_view> token = ParseBearerCredential(text);
  return token.has_value() ? std::string(*token) : "<none>";
}

TEST(BearerCredential, ReturnsTheTokenOfTheHivekitAuthMessage) {
  EXPECT_EQ(TokenOf(std::string("Bearer ") + kJwt), kJwt);
}

TEST(BearerCredential, TakesTheSchemeInAnyCase) {
  EXPECT_EQ(TokenOf("bearer abc"), "abc");
  EXPECT_EQ(TokenOf("BEARER abc"), "abc");
  EXPECT_EQ(TokenOf("bEaReR abc"), "abc");
}

TEST(BearerCredential, AcceptsEveryB64TokenCharacterAndTrailingPadding) {
  EXPECT_EQ(TokenOf("Bearer aZ09-._~+/"), "aZ09-._~+/");
  EXPECT_EQ(TokenOf("Bearer abc="), "abc=");
  EXPECT_EQ(TokenOf("Bearer abc=="), "abc==");
}

TEST(BearerCredential, RefusesPaddingAnywhereButTheEnd) {
  EXPECT_EQ(TokenOf("Bearer ab=c"), "<none>");
  EXPECT_EQ(TokenOf("Bearer ="), "<none>");
  EXPECT_EQ(TokenOf("Bearer =abc"), "<none>");
}

TEST(BearerCredential, RefusesAMissingToken) {
  EXPECT_EQ(TokenOf("Bearer "), "<none>");
  EXPECT_EQ(TokenOf("Bearer"), "<none>");
  EXPECT_EQ(TokenOf(""), "<none>");
}

TEST(BearerCredential, RefusesSpacesInsideOrAroundTheToken) {
  EXPECT_EQ(TokenOf("Bearer abc def"), "<none>");
  EXPECT_EQ(TokenOf("Bearer  abc"), "<none>");
  EXPECT_EQ(TokenOf("Bearer abc "), "<none>");
  EXPECT_EQ(TokenOf(" Bearer abc"), "<none>");
  EXPECT_EQ(TokenOf("Bearer\tabc"), "<none>");
  EXPECT_EQ(TokenOf("Bearer abc\n"), "<none>");
}

TEST(BearerCredential, RefusesOtherSchemesAndJson) {
  EXPECT_EQ(TokenOf("Basic dXNlcjpwYXNz"), "<none>");
  EXPECT_EQ(TokenOf("BearerX abc"), "<none>");
  EXPECT_EQ(TokenOf(R"({"token":"abc"})"), "<none>");
  EXPECT_EQ(TokenOf(R"(["Bearer abc"])"), "<none>");
  EXPECT_EQ(TokenOf(R"("Bearer abc")"), "<none>");
}

TEST(BearerCredential, RefusesCharactersOutsideB64Token) {
  EXPECT_EQ(TokenOf("Bearer abc\"def"), "<none>");
  EXPECT_EQ(TokenOf("Bearer abc,def"), "<none>");
  EXPECT_EQ(TokenOf("Bearer t\xc3\xb6ken"), "<none>");
  EXPECT_EQ(TokenOf(std::string("Bearer abc\0def", 14)), "<none>");
}

}  // namespace
}  // namespace hive::codec

#include "bridge/codec/bearer_credential.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace hive::codec {
namespace {

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == '~' ||
         c == '+' || c == '/';
}

}  // namespace

std::optional<absl::string_view> ParseBearerCredential(absl::string_view text) {
  constexpr absl::string_view kScheme = "Bearer ";
  if (!absl::StartsWithIgnoreCase(text, kScheme)) return std::nullopt;
  absl::string_view token = text.substr(kScheme.size());
  size_t end = 0;
  while (end < token.size() && IsTokenChar(token[end])) ++end;
  if (end == 0) return std::nullopt;
  while (end < token.size() && token[end] == '=') ++end;  // b64token padding
  if (end != token.size()) return std::nullopt;
  return token;
}

}  // namespace hive::codec

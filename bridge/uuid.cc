#include "bridge/uuid.h"

#include <cstdint>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"

namespace hive {
namespace {

bool IsHyphenOffset(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

constexpr char kHexDigits[] = "0123456789abcdef";

int LowercaseHexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

bool IsUuid(absl::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool ok = IsHyphenOffset(i) ? text[i] == '-' : absl::ascii_isxdigit(static_cast<unsigned char>(text[i]));
    if (!ok) return false;
  }
  return true;
}

std::string CanonicalUuid(absl::string_view uuid) { return absl::AsciiStrToLower(uuid); }

bool PackCanonicalUuid(absl::string_view text, unsigned char* bytes) {
  if (text.size() != 36) return false;
  size_t out = 0;
  for (size_t i = 0; i < text.size();) {
    if (IsHyphenOffset(i)) {
      if (text[i] != '-') return false;
      ++i;
      continue;
    }
    const int high = LowercaseHexValue(text[i]);
    const int low = LowercaseHexValue(text[i + 1]);
    if (high < 0 || low < 0 || IsHyphenOffset(i + 1)) return false;
    bytes[out++] = static_cast<unsigned char>(high << 4 | low);
    i += 2;
  }
  return out == 16;
}

void SpellUuid(const unsigned char* bytes, char* text) {
  size_t in = 0;
  for (size_t i = 0; i < 36;) {
    if (IsHyphenOffset(i)) {
      text[i++] = '-';
      continue;
    }
    text[i++] = kHexDigits[bytes[in] >> 4];
    text[i++] = kHexDigits[bytes[in] & 0xF];
    ++in;
  }
}

std::string NewUuid() {
  // absl::BitGen is not thread-safe; one per thread avoids a lock on the
  // request path.
  thread_local absl::BitGen gen;
  uint64_t high = absl::Uniform<uint64_t>(gen);
  uint64_t low = absl::Uniform<uint64_t>(gen);
  high = (high & ~uint64_t{0xF000}) | uint64_t{0x4000};          // version 4
  low = (low & ~(uint64_t{0xC} << 60)) | (uint64_t{0x8} << 60);  // RFC 4122 variant
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", high >> 32, (high >> 16) & 0xFFFF, high & 0xFFFF, low >> 48,
                         low & 0xFFFFFFFFFFFF);
}

}  // namespace hive

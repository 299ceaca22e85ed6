#include "clients/device_sim/derived_ids.h"

#include "absl/strings/str_format.h"

namespace hive::sim {
namespace {

// SplitMix64's finaliser: every input bit affects every output bit, so
// neighbouring indices give unrelated ids.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// FNV-1a, so that kinds ("device", "account") select unrelated streams.
uint64_t HashKind(absl::string_view kind) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : kind) {
    hash = (hash ^ c) * 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace

uint64_t DerivedSeed(uint64_t seed, absl::string_view kind, uint64_t index) {
  return Mix(Mix(Mix(seed) ^ HashKind(kind)) ^ index);
}

std::string DerivedUuid(uint64_t seed, absl::string_view kind, uint64_t index) {
  const uint64_t base = DerivedSeed(seed, kind, index);
  // Version 4 in the high nibble of byte 6, variant 10 in the top bits of byte 8.
  const uint64_t high = (Mix(base + 1) & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  const uint64_t low = (Mix(base + 2) & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", high >> 32, (high >> 16) & 0xffff, high & 0xffff, low >> 48,
                         low & 0xffffffffffffULL);
}

}  // namespace hive::sim

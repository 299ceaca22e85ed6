#include "bridge/queue/stable_digest.h"

#include "absl/strings/string_view.h"
#include "bridge/deterministic_bytes.h"

namespace hive {
namespace {

constexpr uint64_t kFnvOffset = 14695981039346656037ULL;
constexpr uint64_t kFnvPrime = 1099511628211ULL;

void Mix(uint64_t& hash, absl::string_view bytes) {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= kFnvPrime;
  }
}

// Its length first, so that field boundaries cannot shift.
void MixField(uint64_t& hash, absl::string_view bytes) {
  uint64_t size = bytes.size();
  Mix(hash, absl::string_view(reinterpret_cast<const char*>(&size), sizeof(size)));
  Mix(hash, bytes);
}

}  // namespace

uint64_t StableDigestOf(const std::string& device_id, const hive::bridge::v1::SendDeviceRequestRequest& request) {
  uint64_t hash = kFnvOffset;
  MixField(hash, device_id);
  MixField(hash, DeterministicBytes(request.command()));
  MixField(hash, request.has_state() ? DeterministicBytes(request.state()) : std::string("\x00", 1));
  Mix(hash, request.has_state() ? "s" : "n");
  return hash;
}

}  // namespace hive

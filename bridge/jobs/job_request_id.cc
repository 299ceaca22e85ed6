#include "bridge/jobs/job_request_id.h"

#include <openssl/sha.h>

#include <array>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "bridge/uuid.h"

namespace hive {

std::string JobRequestId(absl::string_view job_id, absl::string_view device_id) {
  const std::string input =
      absl::StrCat("hive.job-request", absl::string_view("\0", 1), CanonicalUuid(job_id), absl::string_view("\0", 1),
                   CanonicalUuid(device_id), absl::string_view("\0", 1));
  std::array<uint8_t, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const uint8_t*>(input.data()), input.size(), digest.data());
  digest[6] = static_cast<uint8_t>((digest[6] & 0x0f) | 0x80);  // version 8
  digest[8] = static_cast<uint8_t>((digest[8] & 0x3f) | 0x80);  // RFC 9562 variant
  std::string id(36, '-');
  SpellUuid(digest.data(), id.data());
  return id;
}

}  // namespace hive

// bridge/uuid.h
// UUIDs as the device protocol spells them: device, account and request ids
// are canonical 8-4-4-4-12 hex strings. IsUuid() checks an id that arrived
// from outside; NewUuid() makes a fresh request id.
//
//   if (!IsUuid(device_id)) return absl::InvalidArgumentError(...);
//   std::string request_id = NewUuid();  // "3f0c1e9a-...-..."
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace hive {

// True for the canonical form: 36 characters, hex digits of either case with
// hyphens at offsets 8, 13, 18 and 23. No braces, no "urn:uuid:" prefix.
bool IsUuid(absl::string_view text);

// A random (version 4) UUID in lowercase canonical form. Thread-safe.
std::string NewUuid();

// The canonical (lowercase) spelling of a UUID, so ids that differ only in
// case name the same device, account or request.
std::string CanonicalUuid(absl::string_view uuid);

// The 16 bytes of a UUID in canonical lowercase form, into `bytes`; false
// for any other text (uppercase included, so that SpellUuid gives back the
// same text). For storing ids compactly (FrozenRequest).
bool PackCanonicalUuid(absl::string_view text, unsigned char* bytes);

// The canonical lowercase form of 16 bytes, into the 36 chars at `text`.
void SpellUuid(const unsigned char* bytes, char* text);

}  // namespace hive

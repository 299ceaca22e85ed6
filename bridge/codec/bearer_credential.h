// bridge/codec/bearer_credential.h
// Recognises a bearer credential: the Hivekit auth message (the first text
// frame is exactly "Bearer TOKEN") and the Authorization header value have
// the same shape. It is checked before anything is parsed as JSON, as the
// quarantine demands.
#pragma once

#include <optional>
#include "absl/strings/string_view.h"

namespace hive::codec {

// The token of "Bearer TOKEN" (scheme case-insensitive, one space, token of
// RFC 6750 b64token characters), or nullopt for anything else.
std::optional<absl::string_view> ParseBearerCredential(absl::string_view text);

}  // namespace hive::codec

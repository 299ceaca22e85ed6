// bridge/codec/dialect.h
// The two spellings of the device protocol, chosen per connection by the
// WebSocket subprotocol: the seed's field names ("hive.v1", the default) or
// Hivekit-style three-letter keys ("hive.compact.v1"). Values are the same in
// both; only object keys differ (see compact_keys.h).
#pragma once

#include <optional>
#include "absl/strings/string_view.h"

namespace hive::codec {

enum class Dialect { kStandard, kCompact };

inline constexpr absl::string_view kStandardSubprotocol = "hive.v1";
inline constexpr absl::string_view kCompactSubprotocol = "hive.compact.v1";

inline absl::string_view SubprotocolOf(Dialect dialect) {
  return dialect == Dialect::kCompact ? kCompactSubprotocol : kStandardSubprotocol;
}

inline std::optional<Dialect> DialectOfSubprotocol(absl::string_view name) {
  if (name == kStandardSubprotocol) return Dialect::kStandard;
  if (name == kCompactSubprotocol) return Dialect::kCompact;
  return std::nullopt;
}

}  // namespace hive::codec

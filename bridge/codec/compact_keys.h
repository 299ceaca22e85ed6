// bridge/codec/compact_keys.h
// The hive.compact.v1 key table: every object key the schema names has one
// three-letter code, the same wherever the key appears. Keys the schema does
// not name (those kept in `extra`, the contents of Struct fields) are never
// rewritten, so a compact frame round-trips unchanged.
//
//   CompactKey("storage_apikeys") == "sak";  StandardKey("sak") == "storage_apikeys"
#pragma once

#include <utility>
#include "absl/strings/string_view.h"

#include "absl/types/span.h"
#include "bridge/codec/dialect.h"

namespace hive::codec {

// The whole table, in the order docs/protocol.md lists it.
absl::Span<const std::pair<absl::string_view, absl::string_view>> CompactKeyTable();

// The code of a schema key; the key itself when the table has none.
absl::string_view CompactKey(absl::string_view standard_key);

// The schema key of a code; empty when the code is not in the table.
absl::string_view StandardKey(absl::string_view compact_key);

// The key as `dialect` spells it.
inline absl::string_view WireKey(absl::string_view standard_key, Dialect dialect) {
  return dialect == Dialect::kCompact ? CompactKey(standard_key) : standard_key;
}

}  // namespace hive::codec

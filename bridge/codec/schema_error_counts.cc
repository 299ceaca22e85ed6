#include "bridge/codec/schema_error_counts.h"

namespace hive::codec {

SchemaErrorCounts& SchemaErrorCounts::OfProcess() {
  static auto* const counts = new SchemaErrorCounts;
  return *counts;
}

size_t SchemaErrorCounts::IndexOf(absl::string_view type) {
  for (size_t i = 0; i + 1 < kLabels.size(); ++i) {
    if (kLabels[i] == type) return i;
  }
  return kLabels.size() - 1;
}

void SchemaErrorCounts::Count(absl::string_view type) {
  counts_[IndexOf(type)].fetch_add(1, std::memory_order_relaxed);
}

uint64_t SchemaErrorCounts::value(absl::string_view label) const {
  return counts_[IndexOf(label)].load(std::memory_order_relaxed);
}

}  // namespace hive::codec

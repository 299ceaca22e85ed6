// clients/device_sim/derived_ids.h
// Stable ids and seeds for simulated things. The same (seed, kind, index)
// always gives the same value, so a rerun with the same --seed connects as
// the same devices (the bridge sees them come back, not strangers) and each
// device reports the same app instances every time.
//
//   std::string device = DerivedUuid(options.seed, "device", 7);   // same on every run
//   std::mt19937_64 random(DerivedSeed(options.seed, "device", 7));
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace hive::sim {

// A 64-bit value that looks random but depends only on its arguments.
uint64_t DerivedSeed(uint64_t seed, absl::string_view kind, uint64_t index);

// A lowercase canonical UUID with version 4 and RFC 4122 variant bits, as
// the bridge's own ids are, drawn from DerivedSeed.
std::string DerivedUuid(uint64_t seed, absl::string_view kind, uint64_t index);

}  // namespace hive::sim

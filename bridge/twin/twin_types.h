// bridge/twin/twin_types.h
// Which event types a device's twin keeps the latest event of: the standard
// ones (device-version, device-state, instances, instance-state) and those
// the operator names in --twin-types. The lifecycle types (device-connected,
// device-disconnected, device-alive) are not kept as events: they set the
// twin's connection fields instead.
//
//   TwinTypes types = TwinTypes::WithExtra("my-telemetry,gps");  // validated by the flag
//   if (types.Keeps(event.type())) ...
//
// Immutable once built; any thread may ask.
#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"

namespace hive {

class TwinTypes {
 public:
  // The standard types only.
  TwinTypes();

  // The standard types and the comma-separated `extra` (empty entries are
  // skipped; the flag validates the names).
  static TwinTypes WithExtra(absl::string_view extra);

  // Whether the twin keeps the latest event of `type`.
  bool Keeps(absl::string_view type) const { return kept_.contains(type); }

  // Whether `type` changes a twin at all: kept, or a lifecycle type.
  bool Changes(absl::string_view type) const;

  // Every type that changes a twin, sorted; `with_alive` adds device-alive,
  // which changes only last_alive_at and comes with every ping.
  std::vector<std::string> ChangingTypes(bool with_alive) const;

 private:
  absl::flat_hash_set<std::string> kept_;
};

}  // namespace hive

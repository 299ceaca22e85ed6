#include "bridge/twin/twin_types.h"

#include <algorithm>

#include "absl/strings/str_split.h"

namespace hive {
namespace {

constexpr absl::string_view kStandardTypes[] = {"device-version", "device-state", "instances", "instance-state"};
constexpr absl::string_view kLifecycleTypes[] = {"device-connected", "device-disconnected"};
constexpr absl::string_view kAliveType = "device-alive";

}  // namespace

TwinTypes::TwinTypes() {
  for (absl::string_view type : kStandardTypes) kept_.emplace(type);
}

TwinTypes TwinTypes::WithExtra(absl::string_view extra) {
  TwinTypes types;
  for (absl::string_view type : absl::StrSplit(extra, ',', absl::SkipEmpty())) {
    // A lifecycle type is never kept as an event: it is the twin's own fields.
    if (types.Changes(type) && !types.Keeps(type)) continue;
    types.kept_.emplace(type);
  }
  return types;
}

bool TwinTypes::Changes(absl::string_view type) const {
  if (kept_.contains(type) || type == kAliveType) return true;
  return std::find(std::begin(kLifecycleTypes), std::end(kLifecycleTypes), type) != std::end(kLifecycleTypes);
}

std::vector<std::string> TwinTypes::ChangingTypes(bool with_alive) const {
  std::vector<std::string> types(kept_.begin(), kept_.end());
  for (absl::string_view type : kLifecycleTypes) types.emplace_back(type);
  if (with_alive) types.emplace_back(kAliveType);
  std::sort(types.begin(), types.end());
  return types;
}

}  // namespace hive

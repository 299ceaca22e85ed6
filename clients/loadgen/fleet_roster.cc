#include "clients/loadgen/fleet_roster.h"

#include <algorithm>

#include "bridge/clock.h"
#include "clients/device_sim/derived_ids.h"

namespace hive::loadgen {

sim::SimOptions FleetOptions(const std::string& url, const std::string& jwt_secret_file, int devices, uint64_t seed) {
  sim::SimOptions options;
  options.url = url;
  options.jwt_secret_file = jwt_secret_file;
  options.devices = devices;
  options.seed = seed;
  options.on_request.answer = sim::RequestPolicy::Answer::kAckOnly;
  options.quiet = true;
  return options;
}

absl::StatusOr<sim::DeviceRoster> FleetRoster(const sim::SimOptions& options) {
  // Rosters mint tokens for as long as the process runs.
  static const SystemClock* const clock = new SystemClock;
  return sim::DeviceRoster::FromOptions(options, *clock);
}

std::vector<sim::RosterEntry> FleetIdentities(int devices, uint64_t seed) {
  const sim::SimOptions defaults;
  std::vector<sim::RosterEntry> identities;
  identities.reserve(static_cast<size_t>(std::max(devices, 0)));
  for (int i = 0; i < devices; ++i) {
    identities.push_back({sim::DerivedUuid(seed, "device", static_cast<uint64_t>(i)), defaults.account});
  }
  return identities;
}

}  // namespace hive::loadgen

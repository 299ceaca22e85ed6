// clients/loadgen/fleet_roster.h
// The devices the loadgen itself connects (fan-out emitters, scale
// devices), named as hive-device-sim names them: ids derived from a seed,
// HS256 tokens minted per connection with the bridge's secret.
//
//   absl::StatusOr<sim::DeviceRoster> roster = FleetRoster(options.jwt_secret_file, 8, options.emitter_seed);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "clients/device_sim/device_roster.h"
#include "clients/device_sim/sim_options.h"

namespace hive::loadgen {

// The simulator's options for `devices` devices of `seed` on `url`: header
// authentication, standard dialect, no events, acks at once.
sim::SimOptions FleetOptions(const std::string& url, const std::string& jwt_secret_file, int devices, uint64_t seed);

absl::StatusOr<sim::DeviceRoster> FleetRoster(const sim::SimOptions& options);

// The ids FleetRoster gives `devices` devices of `seed`, without tokens (for
// servers that do not authenticate, so that frames stay the same size).
std::vector<sim::RosterEntry> FleetIdentities(int devices, uint64_t seed);

}  // namespace hive::loadgen

// clients/device_sim/device_roster.h
// The devices a run simulates, each with its account and a way to get its
// token: generated from the options (ids derived from --seed, so reruns reuse
// them; tokens minted per connection) or read from --tokens-file (fixed
// tokens). Immutable once built, so every I/O thread may read it.
//
//   absl::StatusOr<DeviceRoster> roster = DeviceRoster::FromOptions(options, clock);
//   for (size_t i = 0; i < roster->size(); ++i) Connect(roster->entry(i), roster->TokenFor(i));
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bridge/auth/token_minter.h"
#include "bridge/clock.h"
#include "clients/device_sim/sim_options.h"

namespace hive::sim {

struct RosterEntry {
  std::string device_id;
  std::string account_id;
};

class DeviceRoster {
 public:
  // Generated devices: --device-id, or DerivedUuid(seed, "device", i); the
  // account is --account, or with --accounts K DerivedUuid(seed, "account", i % K).
  static DeviceRoster Generate(const SimOptions& options, TokenMinter minter);

  // The first `limit` devices of a tokens file (all of them when `limit` is
  // 0). Blank lines and lines starting with # are skipped; any other line
  // must be "device_id account_id token". Errors name the line.
  static absl::StatusOr<DeviceRoster> ReadTokensFile(const std::string& path, int limit);

  // Whichever of the two the options ask for. `clock` must outlive the roster.
  static absl::StatusOr<DeviceRoster> FromOptions(const SimOptions& options, const Clock& clock);

  size_t size() const { return entries_.size(); }
  const RosterEntry& entry(size_t index) const { return entries_[index]; }

  // The token for the device's next connection. Thread-safe.
  absl::StatusOr<std::string> TokenFor(size_t index) const;

 private:
  DeviceRoster(std::vector<RosterEntry> entries, std::vector<std::string> tokens, std::optional<TokenMinter> minter);

  std::vector<RosterEntry> entries_;
  std::vector<std::string> tokens_;    // one per entry when read from a file
  std::optional<TokenMinter> minter_;  // when generated
};

}  // namespace hive::sim

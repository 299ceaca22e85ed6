// clients/device_sim/sim_options.h
// Every setting of hive-device-sim as one typed struct, parsed and validated
// from the command line and HIVE_SIM_* environment variables (--event-rate or
// HIVE_SIM_EVENT_RATE; the flag wins) before anything connects: an invalid
// value stops the simulator with a message naming the flag or variable. The
// flags are cli::Flags (cli/flags.h): durations are "30s", "90m", "1m30s".
// `hive-device-sim --help` prints every option with its default and variable.
//
//   absl::StatusOr<SimOptions> options = ParseSimOptions(argc, argv, environ);
//   if (absl::IsCancelled(options.status())) { puts(options.status().message()); }  // --help
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bridge/codec/dialect.h"
#include "clients/device_sim/request_policy.h"

namespace hive::sim {

// The seed's account, so that a default run looks like the protocol examples.
inline constexpr absl::string_view kDefaultAccount = "8813b625-e219-4390-9a7b-fe0e22c9e50b";
inline constexpr int kMaxDevices = 100'000;

// Where a device presents its token (docs/protocol.md §2).
enum class AuthMode { kHeader, kMessage };

struct SimOptions {
  std::string url = "ws://127.0.0.1:8080/v1/devices";
  int devices = 0;  // 0 until validated: then 1, or every line of tokens_file
  std::string account = std::string(kDefaultAccount);
  int accounts = 1;       // > 1: devices spread over accounts derived from `seed`
  std::string device_id;  // pins the id of a single device; else derived from `seed`
  uint64_t seed = 1;

  // Credentials: one of the two.
  std::string jwt_secret_file;  // mint HS256 tokens with this secret
  absl::Duration token_ttl = absl::Hours(1);
  std::string tokens_file;  // or read "device_id account_id token" lines

  AuthMode auth = AuthMode::kHeader;
  codec::Dialect dialect = codec::Dialect::kStandard;
  double event_rate = 0;  // events per second per device
  RequestPolicy on_request;
  double connect_rate = 1000;  // new connections per second, all threads together
  bool reconnect = true;
  absl::Duration duration = absl::ZeroDuration();  // zero: until SIGINT or SIGTERM
  int threads = 1;

  bool quiet = false;
  bool json_stats = false;
  bool require_all = false;

  // wss:// only.
  std::string tls_ca_file;  // empty: the system's trust store
  bool tls_insecure = false;
};

// Parses argv (argv[0] is the program), then for each flag not given its
// HIVE_SIM_* variable in `environ` ("NAME=value" entries, null-terminated, as
// ::environ; null reads none). INVALID_ARGUMENT names the flag or variable and
// the problem; `--help` yields CANCELLED whose message is the help text.
absl::StatusOr<SimOptions> ParseSimOptions(int argc, const char* const* argv, const char* const* environ = nullptr);

// Usage, then every option with its default and variable.
std::string SimOptionsHelp();

}  // namespace hive::sim

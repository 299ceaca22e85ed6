// tests/integration/support/simulated_fleet.h
// Many devices at once: the real hive-device-sim, started against a bridge
// the test runs, for the tests a thousand TestDevices would make slow. Its
// --json-stats line, read when it is stopped, says what the devices saw:
// how many requests, any request id a device received twice, and the most
// requests that arrived within one second.
//
//   absl::StatusOr<std::unique_ptr<SimulatedFleet>> fleet = SimulatedFleet::Start(
//       bridge(), {.devices = 800, .seed = 1, .account_id = account, .on_request = "ack-result"});
//   ...
//   absl::StatusOr<SimulatedFleet::Seen> seen = (*fleet)->Stop();  // SIGTERM, then the stats
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "tests/integration/support/bridge_process.h"

namespace hive::integration {

class SimulatedFleet {
 public:
  struct Options {
    int devices = 1;
    // The same seed derives the same device ids: a fleet started again with
    // it is the same devices coming back.
    uint64_t seed = 1;
    std::string account_id;
    std::string on_request = "ack-result";  // hive-device-sim --on-request
    double connect_rate = 5000;             // connections a second: a thousand in a fraction of one
    double event_rate = 0;                  // events a second per device (hive-device-sim --event-rate)
    // Devices named by a file of "DEVICE ACCOUNT TOKEN" lines (the test
    // knows their ids) instead of derived from the seed and minted.
    std::string tokens_file;
  };

  // What the fleet's --json-stats said when it stopped.
  struct Seen {
    int64_t authenticated_devices = 0;
    int64_t requests_received = 0;
    int64_t duplicate_requests = 0;
    int64_t busiest_second_requests = 0;
    int64_t busiest_5s_requests = 0;
    int64_t request_span_ms = 0;  // first request received to the last
  };

  static absl::StatusOr<std::unique_ptr<SimulatedFleet>> Start(const BridgeProcess& bridge, const Options& options);

  SimulatedFleet(const SimulatedFleet&) = delete;
  SimulatedFleet& operator=(const SimulatedFleet&) = delete;
  // SIGKILLs a simulator still running and removes its log.
  ~SimulatedFleet();

  // SIGTERM, the exit awaited (10 s), and the stats it printed.
  absl::StatusOr<Seen> Stop();

  std::string Log() const;

 private:
  SimulatedFleet(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}

  pid_t pid_;
  std::string log_path_;
  std::optional<int> exit_status_;
};

}  // namespace hive::integration

// clients/device_sim/simulator_client.h
// Runs the roster's devices over real WebSockets: connects them at
// --connect-rate, authenticates each (header or first message), feeds every
// frame to its SimulatedDevice and sends what it answers, emits events at
// --event-rate once authenticated, and reconnects with backoff after a close
// or failure (except a 4409: a newer connection of the device took over). Devices are split over --threads I/O threads,
// each with its own websocketpp endpoint, so a device's state is only ever touched by one thread. Progress goes to
// SimStats; closes and failures are logged.
//
//   auto client = SimulatorClient::Start(options, roster, stats);
//   ... (*client)->Stop(absl::Seconds(2));
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/device_sim/device_roster.h"
#include "clients/device_sim/sim_options.h"
#include "clients/device_sim/sim_stats.h"

namespace hive::sim {

class SimulatorClient {
 public:
  virtual ~SimulatorClient() = default;

  // Starts the I/O threads. `options`, `roster` and `stats` must outlive the
  // client. Fails when the transport cannot be set up (e.g. a bad CA file).
  static absl::StatusOr<std::unique_ptr<SimulatorClient>> Start(const SimOptions& options, const DeviceRoster& roster,
                                                                SimStats& stats);

  // Stops connecting, closes every open connection with 1000, waits up to
  // `grace` for the closing handshakes, then stops and joins the threads.
  virtual void Stop(absl::Duration grace) = 0;
};

}  // namespace hive::sim

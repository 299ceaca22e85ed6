#include "clients/loadgen/connection_scale.h"

#include <sys/resource.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/device_sim/derived_ids.h"
#include "clients/device_sim/sim_stats.h"
#include "clients/device_sim/simulator_client.h"
#include "clients/loadgen/fleet_roster.h"
#include "clients/loadgen/process_usage.h"

namespace hive::loadgen {
namespace {

constexpr absl::Duration kPollEvery = absl::Milliseconds(20);
constexpr absl::Duration kCloseGrace = absl::Seconds(5);

// Soft limit up to the hard one: each device holds a socket.
int64_t RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  return static_cast<int64_t>(limit.rlim_cur);
}

// One simulator per address, each with its share of the devices and ids of
// its own (seeds derived per address, so no device connects twice).
struct AddressFleet {
  sim::SimOptions options;
  std::optional<sim::DeviceRoster> roster;
  std::unique_ptr<sim::SimulatorClient> client;
};

}  // namespace

void ScaleResult::AppendTo(JsonOut& out) const {
  const double seconds = absl::ToDoubleSeconds(connect_time);
  out.Field("devices", devices)
      .Field("addresses", addresses)
      .Field("ready", ready)
      .Field("connect_failures", connect_failures)
      .Field("connect_s", seconds)
      .Field("connect_rate", seconds > 0 ? static_cast<double>(ready) / seconds : 0)
      .Field("loadgen_cpu_s", absl::ToDoubleSeconds(loadgen_cpu))
      .Field("file_limit", file_limit);
  if (rss_before_kib >= 0 && rss_after_kib >= 0) {
    const double devices_ready = static_cast<double>(std::max<int64_t>(1, ready));
    out.Field("rss_before_kib", rss_before_kib)
        .Field("rss_after_kib", rss_after_kib)
        .Field("rss_per_device_kib", static_cast<double>(rss_after_kib - rss_before_kib) / devices_ready)
        .Field("server_cpu_s", absl::ToDoubleSeconds(server_cpu))
        .Field("server_cpu_us_per_connect", absl::ToDoubleMicroseconds(server_cpu) / devices_ready);
  }
}

absl::StatusOr<ScaleResult> RunConnectionScale(const LoadgenOptions& options) {
  ScaleResult result;
  result.devices = options.devices;
  result.addresses = static_cast<int>(options.ws_urls.size());
  result.file_limit = RaiseFileLimit();
  absl::Duration server_cpu_before;
  if (options.server_pid > 0) {
    absl::StatusOr<int64_t> before = ResidentKib(options.server_pid);
    if (!before.ok()) return before.status();
    result.rss_before_kib = *before;
    absl::StatusOr<absl::Duration> cpu = CpuTime(options.server_pid);
    if (!cpu.ok()) return cpu.status();
    server_cpu_before = *cpu;
  }

  sim::SimStats stats;
  std::vector<AddressFleet> fleets(options.ws_urls.size());
  for (size_t i = 0; i < fleets.size(); ++i) {
    // Devices are dealt to addresses in turn; the first ones get the remainder.
    const int share = options.devices / static_cast<int>(fleets.size()) +
                      (static_cast<int>(i) < options.devices % static_cast<int>(fleets.size()) ? 1 : 0);
    if (share == 0) continue;
    AddressFleet& fleet = fleets[i];
    fleet.options = FleetOptions(options.ws_urls[i], options.jwt_secret_file, share,
                                 sim::DerivedSeed(options.device_seed, "address", i));
    fleet.options.connect_rate = options.connect_rate * share / options.devices;
    fleet.options.threads = options.sim_threads;
    absl::StatusOr<sim::DeviceRoster> roster = FleetRoster(fleet.options);
    if (!roster.ok()) return roster.status();
    fleet.roster = *std::move(roster);
  }

  const absl::Time start = absl::Now();
  const absl::Duration own_cpu_before = OwnCpuTime();
  for (AddressFleet& fleet : fleets) {
    if (!fleet.roster) continue;
    absl::StatusOr<std::unique_ptr<sim::SimulatorClient>> client =
        sim::SimulatorClient::Start(fleet.options, *fleet.roster, stats);
    if (!client.ok()) return client.status();
    fleet.client = *std::move(client);
  }
  const auto ready = [&] {
    const sim::SimStats::Snapshot now = stats.Read();
    return options.echo ? now.connected : now.authenticated;
  };
  const absl::Time give_up = start + options.connect_timeout;
  while (ready() < options.devices && absl::Now() < give_up) absl::SleepFor(kPollEvery);
  result.connect_time = absl::Now() - start;
  result.loadgen_cpu = OwnCpuTime() - own_cpu_before;
  if (options.server_pid > 0) {
    absl::StatusOr<absl::Duration> cpu = CpuTime(options.server_pid);
    if (!cpu.ok()) return cpu.status();
    result.server_cpu = *cpu - server_cpu_before;
  }

  absl::SleepFor(options.settle);
  result.ready = ready();
  result.connect_failures = stats.Read().connect_failures;
  if (options.server_pid > 0) {
    absl::StatusOr<int64_t> after = ResidentKib(options.server_pid);
    if (!after.ok()) return after.status();
    result.rss_after_kib = *after;
  }
  for (AddressFleet& fleet : fleets) {
    if (fleet.client) fleet.client->Stop(kCloseGrace);
  }
  return result;
}

}  // namespace hive::loadgen

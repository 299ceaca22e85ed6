// hive-device-sim: simulates devices against a hivebridge. See
// `hive-device-sim --help` and clients/device_sim/simulator_client.h.
//
// Exit status: 0 after a clean run; 1 when --require-all was given and not
// every device authenticated within 30 s of start; 2 for bad options or a
// failed start.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bridge/clock.h"
#include "bridge/log.h"
#include "clients/device_sim/device_roster.h"
#include "clients/device_sim/sim_options.h"
#include "clients/device_sim/sim_stats.h"
#include "clients/device_sim/simulator_client.h"

namespace hive::sim {
namespace {

constexpr absl::Duration kRequireAllWithin = absl::Seconds(30);
constexpr absl::Duration kCloseGrace = absl::Seconds(2);
constexpr absl::Duration kTerminalProgressEvery = absl::Milliseconds(500);
constexpr absl::Duration kLogProgressEvery = absl::Seconds(5);

// Each device holds a socket; the soft limit is often 1024 while the hard
// limit allows far more.
void RaiseFileLimit(size_t devices) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < devices + 64) {
    Log(LogLevel::kWarn, "file_limit_low", {{"limit", limit.rlim_cur}, {"devices", devices}});
  }
}

// Waits until `deadline` or a signal in `signals`; returns the signal or 0.
int WaitForSignal(const sigset_t& signals, absl::Time deadline) {
  const timespec wait = absl::ToTimespec(std::max(absl::ZeroDuration(), deadline - absl::Now()));
  const int received = sigtimedwait(&signals, nullptr, &wait);
  return received > 0 ? received : 0;
}

int Run(int argc, char** argv) {
  absl::StatusOr<SimOptions> options = ParseSimOptions(argc, argv, environ);
  if (absl::IsCancelled(options.status())) {
    std::fputs(std::string(options.status().message()).c_str(), stdout);
    return 0;
  }
  if (!options.ok()) {
    std::fprintf(stderr, "hive-device-sim: %s\n", std::string(options.status().message()).c_str());
    return 2;
  }
  if (options->quiet) SetLogLevel(LogLevel::kError);

  SystemClock clock;
  absl::StatusOr<DeviceRoster> roster = DeviceRoster::FromOptions(*options, clock);
  if (!roster.ok()) {
    std::fprintf(stderr, "hive-device-sim: %s\n", std::string(roster.status().message()).c_str());
    return 2;
  }
  RaiseFileLimit(roster->size());

  // Blocked before any thread starts, so every thread inherits the mask and
  // only the sigtimedwait below ever sees SIGINT and SIGTERM.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A shell starts background jobs with SIGINT ignored, and an ignored
  // signal is dropped even while blocked: restore the default so that
  // sigtimedwait receives it.
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGPIPE, SIG_IGN);

  SimStats stats;
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<SimulatorClient>> client = SimulatorClient::Start(*options, *roster, stats);
  if (!client.ok()) {
    std::fprintf(stderr, "hive-device-sim: %s\n", std::string(client.status().message()).c_str());
    return 2;
  }
  Log(LogLevel::kInfo, "started", {{"devices", roster->size()}, {"url", options->url}, {"threads", options->threads}});

  const bool terminal = isatty(STDOUT_FILENO) == 1;
  const bool show_progress = !options->quiet;
  const absl::Duration progress_every = terminal ? kTerminalProgressEvery : kLogProgressEvery;
  const absl::Time end = options->duration > absl::ZeroDuration() ? start + options->duration : absl::InfiniteFuture();
  const auto all_authenticated = [&](const SimStats::Snapshot& snapshot) {
    return snapshot.authenticated_devices == static_cast<int64_t>(roster->size());
  };
  const auto print_progress = [&](const SimStats::Snapshot& snapshot) {
    // \x1b[K clears what a longer earlier line left behind.
    std::fputs(terminal ? absl::StrCat("\r", snapshot.ProgressLine(roster->size()), "\x1b[K").c_str()
                        : absl::StrCat(snapshot.ProgressLine(roster->size()), "\n").c_str(),
               stdout);
    std::fflush(stdout);
  };

  bool all_in_time = false;
  absl::Time next_progress = start + progress_every;
  for (;;) {
    absl::Time wake = std::min(end, show_progress ? next_progress : absl::InfiniteFuture());
    if (options->require_all && !all_in_time) wake = std::min(wake, start + kRequireAllWithin);
    if (const int received = WaitForSignal(signals, wake); received != 0) {
      Log(LogLevel::kInfo, "stopping", {{"signal", received == SIGINT ? "SIGINT" : "SIGTERM"}});
      break;
    }
    const absl::Time now = absl::Now();
    const SimStats::Snapshot snapshot = stats.Read();
    if (!all_in_time && now - start <= kRequireAllWithin && all_authenticated(snapshot)) all_in_time = true;
    if (options->require_all && !all_in_time && now - start >= kRequireAllWithin) break;
    if (now >= end) break;
    if (show_progress && now >= next_progress) {
      print_progress(snapshot);
      next_progress += progress_every;
    }
  }
  // The numbers of the run itself, before our own closes empty the gauges.
  const absl::Duration elapsed = absl::Now() - start;
  const SimStats::Snapshot final_stats = stats.Read();
  if (!all_in_time && elapsed <= kRequireAllWithin && all_authenticated(final_stats)) all_in_time = true;
  (*client)->Stop(kCloseGrace);

  if (show_progress) {
    print_progress(final_stats);
    if (terminal) std::fputs("\n", stdout);
  }
  if (options->json_stats) {
    std::puts(final_stats.ToJson(roster->size(), elapsed).c_str());
    std::fflush(stdout);
  }
  if (options->require_all && !all_in_time) {
    Log(LogLevel::kError, "not_all_authenticated",
        {{"authenticated_devices", final_stats.authenticated_devices}, {"devices", roster->size()}});
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace hive::sim

int main(int argc, char** argv) { return hive::sim::Run(argc, argv); }

// The hivebridge executable: parse the configuration, start the bridge,
// reload its TLS certificates on SIGHUP, and shut it down gracefully on
// SIGTERM or SIGINT.
#include <unistd.h>  // environ

#include <csignal>
#include <cstdio>

#include "absl/synchronization/mutex.h"
#include "bridge/log.h"
#include "server/bridge_server.h"
#include "server/config.h"

int main(int argc, char** argv) {
  // Block the signals the bridge acts on before any thread starts, so every
  // thread inherits the mask and only sigwait below sees them: they are
  // handled on this ordinary thread, never in a signal handler. A SIGHUP that
  // comes during start-up waits, pending, for the loop.
  sigset_t handled_signals;
  sigemptyset(&handled_signals);
  sigaddset(&handled_signals, SIGTERM);
  sigaddset(&handled_signals, SIGINT);
  sigaddset(&handled_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &handled_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  // Debian's Abseil is built without NDEBUG, so every Lock() would otherwise
  // check lock order against a process-wide graph behind a global lock (2 % of
  // a round trip's CPU). Unit tests keep the check; the TSan build reports
  // lock-order inversions in the server.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  absl::StatusOr<hive::server::Config> config = hive::server::ParseConfig(argc, argv, environ);
  if (!config.ok()) {
    if (absl::IsCancelled(config.status())) {  // --help or --version
      std::fprintf(stdout, "%s\n", std::string(config.status().message()).c_str());
      return 0;
    }
    std::fprintf(stderr, "hivebridge: %s\nRun 'hivebridge --help' for the options.\n",
                 std::string(config.status().message()).c_str());
    return 2;
  }
  absl::StatusOr<std::unique_ptr<hive::server::BridgeServer>> server = hive::server::BridgeServer::Start(*config);
  if (!server.ok()) {
    hive::Log(hive::LogLevel::kError, "start_failed", {{"error", server.status().message()}});
    return 1;
  }
  int signal = 0;
  for (;;) {
    if (sigwait(&handled_signals, &signal) != 0) continue;
    if (signal != SIGHUP) break;
    hive::Log(hive::LogLevel::kInfo, "signal", {{"signal", "SIGHUP"}, {"action", "reload_tls"}});
    (*server)->ReloadTls();
  }
  hive::Log(hive::LogLevel::kInfo, "signal", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
  (*server)->Shutdown();
  return 0;
}

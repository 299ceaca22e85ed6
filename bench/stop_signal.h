// bench/stop_signal.h
// How the benchmark servers stop: SIGTERM or SIGINT, received by the main
// thread alone. Block first, before any thread starts (threads inherit the
// mask), then serve, then wait.
//
//   BlockStopSignals();
//   StartServing();                 // threads started here never see the signals
//   WaitForStopSignal();
#pragma once

#include <signal.h>  // NOLINT(modernize-deprecated-headers): POSIX sigset_t, pthread_sigmask

namespace hive::bench {

inline sigset_t StopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

inline void BlockStopSignals() {
  const sigset_t signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

inline void WaitForStopSignal() {
  const sigset_t signals = StopSignals();
  int received = 0;
  sigwait(&signals, &received);
}

}  // namespace hive::bench

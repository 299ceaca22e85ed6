#include "bridge/bus/write_watchdog.h"

#include <sys/socket.h>

#include "bridge/log.h"

namespace hive {

WriteWatchdog::WriteWatchdog(const Clock& clock, absl::Duration limit, absl::Duration check_every)
    : clock_(clock), limit_(limit), check_every_(check_every), thread_([this] { Watch(); }) {}

WriteWatchdog::~WriteWatchdog() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void WriteWatchdog::Arm(int fd) {
  absl::MutexLock lock(&mu_);
  fd_ = fd;
  since_ = clock_.Now();
}

void WriteWatchdog::Disarm() {
  absl::MutexLock lock(&mu_);
  fd_ = -1;
  since_.reset();
}

std::optional<absl::Time> WriteWatchdog::writing_since() const {
  absl::MutexLock lock(&mu_);
  return since_;
}

uint64_t WriteWatchdog::fired() const {
  absl::MutexLock lock(&mu_);
  return fired_;
}

void WriteWatchdog::Watch() {
  absl::MutexLock lock(&mu_);
  while (true) {
    // Wakes early only to stop.
    mu_.AwaitWithTimeout(absl::Condition(&stop_), check_every_);
    if (stop_) return;
    if (fd_ < 0 || !since_.has_value() || clock_.Now() - *since_ < limit_) continue;
    // Under the lock, so the writer cannot disarm and close the fd (which
    // another socket may then reuse) in between. Shutting down, rather than
    // closing, leaves the fd to its owner; the write fails at once (EPIPE).
    shutdown(fd_, SHUT_RDWR);
    Log(LogLevel::kWarn, "bus_write_stuck",
        {{"limit", absl::FormatDuration(limit_)}, {"action", "connection shut down"}});
    ++fired_;
    fd_ = -1;
  }
}

}  // namespace hive

// tests/integration/support/process_stats.h
// What the kernel says a process (the bridge under test) is using, from
// /proc/<pid>: resident memory, open file descriptors and CPU time, so that
// fault tests can check that memory stays bounded, descriptors are given
// back and nothing spins.
//
//   std::optional<ProcessStats> before = ReadProcessStats(bridge.pid());
//   ... absl::SleepFor(absl::Seconds(1)) ...
//   absl::Duration busy = ReadProcessStats(bridge.pid())->cpu_time - before->cpu_time;
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

#include "absl/time/time.h"

namespace hive::integration {

struct ProcessStats {
  uint64_t rss_kib = 0;      // VmRSS
  int open_fds = 0;          // entries of /proc/<pid>/fd
  absl::Duration cpu_time;   // user + system, every thread
};

// nullopt when the process is gone (or /proc unreadable).
std::optional<ProcessStats> ReadProcessStats(pid_t pid);

}  // namespace hive::integration

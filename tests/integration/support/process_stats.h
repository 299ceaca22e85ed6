// tests/integration/support/process_stats.h
// What the kernel says a process (the bridge under test) is using, from
// /proc/<pid>: resident memory, open file descriptors and CPU time.
//
//   std::optional<ProcessStats> stats = ReadProcessStats(bridge.pid());
//   if (stats->open_fds >= kMaxOpenFiles) ...
//
// Tests in ctest may wait on a count (descriptors in use) or record a figure
// (RecordProperty("rss_after_kib", ...)), but never assert a CPU, time or
// memory bound: a loaded machine must not fail a correct bridge. Such bounds
// are asserted by `make soak` (scripts/soak.py), which reads what tests record.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

#include "absl/time/time.h"

namespace hive::integration {

struct ProcessStats {
  uint64_t rss_kib = 0;     // VmRSS
  int open_fds = 0;         // entries of /proc/<pid>/fd
  absl::Duration cpu_time;  // user + system, every thread
};

// nullopt when the process is gone (or /proc unreadable).
std::optional<ProcessStats> ReadProcessStats(pid_t pid);

}  // namespace hive::integration

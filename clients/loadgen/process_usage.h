// clients/loadgen/process_usage.h
// What a server process on this machine uses, as the kernel reports it:
// resident memory (VmRSS in /proc/PID/status) for the bytes per idle device,
// and CPU time (utime + stime in /proc/PID/stat) for the cost per connect or
// per request, which stays meaningful when the load generator is the slower
// side.
//
//   absl::StatusOr<int64_t> kib = ResidentKib(pid);
//   absl::StatusOr<absl::Duration> cpu = CpuTime(pid);
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hive::loadgen {

absl::StatusOr<int64_t> ResidentKib(int pid);
absl::StatusOr<absl::Duration> CpuTime(int pid);

// This process's own CPU time (user + system).
absl::Duration OwnCpuTime();

}  // namespace hive::loadgen

// tests/integration/support/child_process.h
// What the integration tests need to run real servers as child processes:
// free loopback ports, spawning with a clean signal state and output to a
// log file, and reaping.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace hive::integration {

// A port nothing listens on right now: bind 127.0.0.1:0, read, close.
absl::StatusOr<int> PickFreePort();

// Resource limits the child starts with (unset: the test process's own).
struct ChildLimits {
  // RLIMIT_NOFILE, soft and hard: a child that may open only this many
  // file descriptors, to see what it does when it runs out.
  std::optional<int> max_open_files{};
};

// Starts args[0] with `args` and `env` ("NAME=value"), stdin from /dev/null,
// stdout and stderr appended to `log_path`, an empty signal mask and default
// dispositions (as from a shell, whatever the test's threads block), and
// `limits`. The test's sanitizer variables (*SAN_OPTIONS, and
// LD_LIBRARY_PATH, which make test-tsan points at the TSan-built Abseil)
// are added to `env` unless it sets them: they configure the sanitizer
// runtime, not the program under test, and without them a child of a
// sanitizer tree would run with the runtime's defaults (no suppressions, no
// halt_on_error) or load the uninstrumented Abseil.
absl::StatusOr<pid_t> SpawnChild(std::vector<std::string> args, std::vector<std::string> env,
                                 const std::string& log_path, const ChildLimits& limits = {});

// The child's exit status (128 + signal when killed) once it has ended,
// reaping it; nullopt while it runs.
std::optional<int> PollExit(pid_t pid);

std::string ReadFile(const std::string& path);

}  // namespace hive::integration

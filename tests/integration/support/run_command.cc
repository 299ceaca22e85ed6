#include "tests/integration/support/run_command.h"

#include <csignal>

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/integration/support/child_process.h"

namespace hive::integration {

absl::StatusOr<int> RunCommand(std::vector<std::string> args, std::vector<std::string> env, const std::string& log_path,
                               absl::Duration timeout) {
  const std::string tool = args.front();
  absl::StatusOr<pid_t> pid = SpawnChild(std::move(args), std::move(env), log_path);
  if (!pid.ok()) return pid.status();
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    if (std::optional<int> exit = PollExit(*pid); exit.has_value()) return *exit;
    if (absl::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  kill(*pid, SIGKILL);
  while (!PollExit(*pid).has_value()) absl::SleepFor(absl::Milliseconds(10));
  return absl::DeadlineExceededError(absl::StrCat(tool, " still ran after ", absl::FormatDuration(timeout)));
}

}  // namespace hive::integration

// tests/integration/support/run_command.h
// Runs a short-lived tool (openssl, curl) to its end, as SpawnChild starts
// it (a clean environment but `env`, output to `log_path`):
//
//   absl::StatusOr<int> exit = RunCommand({"/usr/bin/openssl", "version"}, {}, dir + "/openssl.log");
//
// Fails (DEADLINE_EXCEEDED) when the tool still runs after `timeout`, and
// then kills it.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hive::integration {

absl::StatusOr<int> RunCommand(std::vector<std::string> args, std::vector<std::string> env, const std::string& log_path,
                               absl::Duration timeout = absl::Seconds(30));

}  // namespace hive::integration

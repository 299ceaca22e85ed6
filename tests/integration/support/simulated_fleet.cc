#include "tests/integration/support/simulated_fleet.h"

#include <csignal>
#include <cstdio>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "bridge/uuid.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace hive::integration {

absl::StatusOr<std::unique_ptr<SimulatedFleet>> SimulatedFleet::Start(const BridgeProcess& bridge,
                                                                      const Options& options) {
  std::string log_path = absl::StrCat(::testing::TempDir(), "/hive-device-sim-", NewUuid(), ".log");
  std::vector<std::string> args = {HIVE_DEVICE_SIM_BINARY,
                                   absl::StrCat("--url=", bridge.ws_url()),
                                   absl::StrCat("--on-request=", options.on_request),
                                   absl::StrCat("--connect-rate=", options.connect_rate),
                                   absl::StrCat("--event-rate=", options.event_rate),
                                   "--threads=2",
                                   "--quiet",
                                   "--json-stats"};
  if (!options.tokens_file.empty()) {
    args.push_back(absl::StrCat("--tokens-file=", options.tokens_file));
  } else {
    args.push_back(absl::StrCat("--jwt-secret-file=", bridge.secret_path()));
    args.push_back(absl::StrCat("--devices=", options.devices));
    args.push_back(absl::StrCat("--seed=", options.seed));
    if (!options.account_id.empty()) args.push_back(absl::StrCat("--account=", options.account_id));
  }
  absl::StatusOr<pid_t> pid = SpawnChild(std::move(args), {}, log_path);
  if (!pid.ok()) return pid.status();
  return std::unique_ptr<SimulatedFleet>(new SimulatedFleet(*pid, std::move(log_path)));
}

SimulatedFleet::~SimulatedFleet() {
  if (!exit_status_.has_value()) {
    kill(pid_, SIGKILL);
    while (!PollExit(pid_).has_value()) absl::SleepFor(absl::Milliseconds(10));
  }
  std::remove(log_path_.c_str());
}

std::string SimulatedFleet::Log() const { return ReadFile(log_path_); }

absl::StatusOr<SimulatedFleet::Seen> SimulatedFleet::Stop() {
  if (!exit_status_.has_value()) kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!exit_status_.has_value()) {
    exit_status_ = PollExit(pid_);
    if (exit_status_.has_value()) break;
    if (absl::Now() >= deadline) return absl::DeadlineExceededError("hive-device-sim did not exit on SIGTERM");
    absl::SleepFor(absl::Milliseconds(10));
  }
  // The stats are the last line that is a JSON object.
  const std::string log = Log();
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (!absl::StartsWith(line, "{\"devices\"")) continue;
    rapidjson::Document doc;
    doc.Parse(line.data(), line.size());
    if (doc.HasParseError() || !doc.IsObject()) continue;
    const auto count = [&doc](const char* key) -> int64_t {
      const auto member = doc.FindMember(key);
      return member != doc.MemberEnd() && member->value.IsInt64() ? member->value.GetInt64() : -1;
    };
    return Seen{count("authenticated_devices"),   count("requests_received"),   count("duplicate_requests"),
                count("busiest_second_requests"), count("busiest_5s_requests"), count("request_span_ms")};
  }
  return absl::NotFoundError(
      absl::StrCat("no --json-stats line in hive-device-sim's log (exit ", *exit_status_, "):\n", log));
}

}  // namespace hive::integration

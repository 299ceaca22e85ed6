// clients/hivectl/invocation.h
// One run of hivectl as typed values: the global options (server, output,
// timeout) and the command with the exact request proto it sends. Parsing
// validates everything a server would reject for shape alone (ids are UUIDs,
// actions are known, JSON payloads are objects), so a usage error never
// reaches the network.
//
//   absl::StatusOr<Invocation> invocation = ParseInvocation(argc, argv, getenv("HIVECTL_SERVER"));
//   if (absl::IsCancelled(invocation.status())) { puts(invocation.status().message()); }  // --help
//   else if (!invocation.ok()) { /* usage error: exit 2 */ }
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive::ctl {

inline constexpr absl::string_view kDefaultServer = "localhost:9090";

enum class OutputFormat { kTable, kJson };

struct GlobalOptions {
  std::string server = std::string(kDefaultServer);
  OutputFormat output = OutputFormat::kTable;
  absl::Duration timeout = absl::Seconds(10);
  bool timeout_given = false;  // subscribe has no deadline unless --timeout is given
};

// `hivectl devices`: ListDevices, following next_page_token to the end.
struct ListDevicesCommand {
  bridge::v1::ListDevicesRequest request;
};

// `hivectl device ID`: GetDevice.
struct GetDeviceCommand {
  bridge::v1::GetDeviceRequest request;
};

// `hivectl send DEVICE KIND ...`: SendDeviceRequest.
struct SendCommand {
  bridge::v1::SendDeviceRequestRequest request;
};

// `hivectl subscribe ...`: SubscribeEvents; stops after `count` events (0: never).
struct SubscribeCommand {
  bridge::v1::SubscribeEventsRequest request;
  int64_t count = 0;
};

using Command = std::variant<ListDevicesCommand, GetDeviceCommand, SendCommand, SubscribeCommand>;

struct Invocation {
  GlobalOptions global;
  Command command;
};

// Parses argv (argv[0] is the program). `env_server` is $HIVECTL_SERVER, or
// null. INVALID_ARGUMENT names the option or argument and the problem;
// `--help` yields CANCELLED whose message is the help text.
absl::StatusOr<Invocation> ParseInvocation(int argc, const char* const* argv, const char* env_server);

// Usage, every command and option with its default, and the exit codes.
std::string HivectlHelp();

}  // namespace hive::ctl

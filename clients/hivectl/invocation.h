// clients/hivectl/invocation.h
// One run of hivectl as typed values: the global options (server, TLS, token,
// output, timeout) and the command with the exact request proto it sends. Parsing
// validates everything a server would reject for shape alone (ids are UUIDs,
// actions are known, JSON payloads are objects), so a usage error never
// reaches the network.
//
//   absl::StatusOr<Invocation> invocation = ParseInvocation(argc, argv, environ);
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
#include "hive/bridge/v1/jobs.pb.h"

namespace hive::ctl {

inline constexpr absl::string_view kDefaultServer = "localhost:9090";

enum class OutputFormat { kTable, kJson };

// The options of every command: where the bridge is, how to reach it
// (plaintext unless TLS is asked for) and how to print.
struct GlobalOptions {
  std::string server = std::string(kDefaultServer);
  OutputFormat output = OutputFormat::kTable;
  absl::Duration timeout = absl::Seconds(10);
  bool timeout_given = false;  // subscribe and job watch have no deadline unless --timeout is given
  bool tls = false;            // --tls, or implied by --ca or --cert/--key
  std::string ca_file;         // PEM CA to verify the bridge with; empty: the system roots
  std::string cert_file;       // PEM client certificate chain (mTLS), with key_file
  std::string key_file;
  std::string server_name;  // TLS target name override; empty: the host of `server`
  std::string token;        // sent as `authorization: Bearer <token>`; empty: none
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

// `hivectl request ID`: GetRequest.
struct GetRequestCommand {
  bridge::v1::GetRequestRequest request;
};

// `hivectl cancel ID`: CancelRequest.
struct CancelRequestCommand {
  bridge::v1::CancelRequestRequest request;
};

// `hivectl subscribe ...`: SubscribeEvents; stops after `count` events (0: never).
struct SubscribeCommand {
  bridge::v1::SubscribeEventsRequest request;
  int64_t count = 0;
};

// `hivectl health [--service NAME]`: the standard gRPC health service's
// Check (grpc.health.v1.Health), for the whole server ("") or one service.
struct HealthCommand {
  std::string service;
};

// `hivectl token --jwt-secret-file F --device-id D --account A`: mints a
// device token locally; no call to the bridge. Exactly one of the key files
// is set: the bridge's HS256 secret, or the private key whose public half is
// the bridge's --jwt-public-key-file (RS256/ES256).
struct TokenCommand {
  std::string secret_file;
  std::string private_key_file;
  std::string device_id;
  std::string account_id;
  absl::Duration expires_in = absl::Hours(1);
};

// `hivectl job start KIND [ACTION] ...`: StartJob (FleetJobs); the command
// is built as `send` builds it. With --dry-run, prints the selection.
struct StartJobCommand {
  bridge::v1::StartJobRequest request;
};

// `hivectl job get JOB_ID`: GetJob.
struct GetJobCommand {
  bridge::v1::GetJobRequest request;
};

// `hivectl job ls [--state=S]... [--page-size=N]`: ListJobs, following
// next_page_token to the end.
struct ListJobsCommand {
  bridge::v1::ListJobsRequest request;
};

// `hivectl job cancel JOB_ID`: CancelJob.
struct CancelJobCommand {
  bridge::v1::CancelJobRequest request;
};

// `hivectl job watch JOB_ID [--resume-after=SEQ]`: WatchJob until the job
// ends (the server ends the stream).
struct WatchJobCommand {
  bridge::v1::WatchJobRequest request;
};

using Command = std::variant<ListDevicesCommand, GetDeviceCommand, SendCommand, GetRequestCommand, CancelRequestCommand,
                             SubscribeCommand, HealthCommand, TokenCommand, StartJobCommand, GetJobCommand,
                             ListJobsCommand, CancelJobCommand, WatchJobCommand>;

// Whether the command calls the FleetJobs service (RunJob) rather than
// DeviceBridge.
bool IsJobCommand(const Command& command);

struct Invocation {
  GlobalOptions global;
  Command command;
};

// Parses argv (argv[0] is the program) and the environment (a null-terminated
// "NAME=value" array, as `environ`; null for none), which supplies
// HIVECTL_SERVER and HIVECTL_TOKEN when their flags are absent.
// INVALID_ARGUMENT names the option or argument and the problem; `--help`
// yields CANCELLED whose message is the help text, and `--version` (before
// any command) CANCELLED whose message is HivectlVersion() and a newline.
absl::StatusOr<Invocation> ParseInvocation(int argc, const char* const* argv, const char* const* environ);

// `hivectl --help` (command empty): usage, the global options with their
// defaults and variables, the commands and the exit codes. With a command,
// `hivectl COMMAND --help`: its usage and options. No line passes 100 columns.
std::string HivectlHelp(absl::string_view command = "");

// "hivectl X.Y.Z": the version of the hivebridge release hivectl is built
// with, the one `hivebridge --version` reports (the project's version).
std::string HivectlVersion();

}  // namespace hive::ctl

// tests/integration/support/bridge_process.h
// The real hivebridge executable, started for one test (or one test suite) on
// loopback ports the kernel picks, with a fresh HS256 secret in a private
// temporary directory and its log captured to a file there.
//
//   absl::StatusOr<std::unique_ptr<BridgeProcess>> bridge =
//       BridgeProcess::Start({"--auth-timeout=500ms"});
//   TestDevice device({.url = (*bridge)->ws_url(), .token = (*bridge)->MintToken(d, a), ...});
//   auto stub = (*bridge)->NewStub();
//   ... EXPECT_...(...) << (*bridge)->Log();
//   (*bridge)->Signal(SIGTERM);
//   std::optional<int> status = (*bridge)->Wait(absl::Seconds(5));
//
// Ports: each start binds 127.0.0.1:0 twice to learn two free ports, closes
// them and passes them on (the server refuses port 0); a start that fails
// (say another process took a port in between) is retried with new ports.
// Start() returns once the server logged `event=started`.
//
// The destructor SIGKILLs a process still running and removes the directory.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "hive/bridge/v1/device_bridge.grpc.pb.h"
#include "tests/integration/support/child_process.h"

namespace hive::integration {

using hive::bridge::v1::DeviceBridge;

class BridgeProcess {
 public:
  // Spawns the binary with the test defaults (loopback, free ports, secret
  // file) followed by `extra_flags`, which therefore win; waits up to 10 s
  // for `event=started`. The process runs with `limits`.
  static absl::StatusOr<std::unique_ptr<BridgeProcess>> Start(const std::vector<std::string>& extra_flags = {},
                                                              ChildLimits limits = {});

  BridgeProcess(const BridgeProcess&) = delete;
  BridgeProcess& operator=(const BridgeProcess&) = delete;
  ~BridgeProcess();

  int ws_port() const { return ws_port_; }
  int grpc_port() const { return grpc_port_; }
  // The HTTP/JSON gateway's port from the started line; 0 when it is off
  // (pass --http-listen=127.0.0.1:0 to turn it on, on a free port).
  int http_port() const { return http_port_; }
  // The event hub's epoch, from the started line: a resume point {epoch, 0}
  // replays everything this server has published.
  const std::string& epoch() const { return epoch_; }
  // ws://127.0.0.1:PORT/v1/devices
  std::string ws_url() const;
  const std::string& secret() const { return secret_; }
  // The file holding secret(), for a client that mints its own tokens.
  const std::string& secret_path() const { return secret_path_; }
  pid_t pid() const { return pid_; }

  // An HS256 token for the device, valid for `ttl`.
  std::string MintToken(absl::string_view device_id, absl::string_view account_id,
                        absl::Duration ttl = absl::Hours(1)) const;

  // A stub on the process's shared channel.
  std::unique_ptr<DeviceBridge::Stub> NewStub() const;
  // A stub on a channel of its own (its own TCP connection) with `args`.
  std::unique_ptr<DeviceBridge::Stub> NewStub(grpc::ChannelArguments args) const;

  // Sends `signal` to the process.
  void Signal(int signal) const;
  // The exit status (128 + signal when killed), or nullopt while it still
  // runs after `timeout`.
  std::optional<int> Wait(absl::Duration timeout);
  bool running();

  // Everything the process has logged so far.
  std::string Log() const;
  // Polls the log until it contains `needle` or `timeout` passes.
  bool WaitForLog(absl::string_view needle, absl::Duration timeout) const;

 private:
  explicit BridgeProcess(ChildLimits limits) : limits_(limits) {}
  absl::Status Spawn(const std::vector<std::string>& extra_flags);
  // Spawns on fresh free ports and waits for the started line.
  absl::Status Launch(const std::vector<std::string>& extra_flags);
  absl::Status AwaitStarted(absl::Duration timeout);

  const ChildLimits limits_;
  std::string dir_;
  std::string log_path_;
  std::string secret_path_;
  std::string secret_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  int ws_port_ = 0;
  int grpc_port_ = 0;
  int http_port_ = 0;
  std::string epoch_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace hive::integration

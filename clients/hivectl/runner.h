// clients/hivectl/runner.h
// Runs a parsed Invocation against a DeviceBridge stub and prints the outcome
// as a table or as protobuf JSON. Returns hivectl's exit status: 0 OK, 1 the
// device reported failure, 2 a usage error found only when running (a secret
// file that cannot be read), 10 + the gRPC status code when a call fails (with
// "hivectl: CODE: message" on `err`). The stub is borrowed, so tests may pass
// a mock; `hivectl job` calls FleetJobs (RunJob); `hivectl token` needs none (RunToken); `hivectl health` calls
// another service than DeviceBridge, on the channel (bridge_health.h).
//
//   auto stub = DeviceBridge::NewStub(*OpenBridgeChannel(invocation->global));
//   return RunInvocation(*invocation, *stub, std::cout, std::cerr);
#pragma once

#include <grpcpp/support/status.h>

#include <ostream>

#include "bridge/clock.h"
#include "clients/hivectl/invocation.h"
#include "hive/bridge/v1/device_bridge.grpc.pb.h"
#include "hive/bridge/v1/jobs.grpc.pb.h"

namespace hive::ctl {

inline constexpr int kExitDeviceFailed = 1;
inline constexpr int kExitNotServing = 1;  // health: the bridge answered, but not SERVING
inline constexpr int kExitUsage = 2;
inline constexpr int kExitRpcBase = 10;

// 10 + the status code; 0 for OK.
int ExitCodeFor(const grpc::Status& status);

// `hivectl token`: prints the minted token and a newline on `out`, nothing
// else; exit 2 naming the key file's flag when it cannot be read or used.
int RunToken(const TokenCommand& command, const Clock& clock, std::ostream& out, std::ostream& err);

// `hivectl job ...` (IsJobCommand) on the FleetJobs stub; any other command
// is a usage error here. `job watch` prints each change as it comes and
// returns 0 when the server ends the stream OK (the job ended).
int RunJob(const Invocation& invocation, bridge::v1::FleetJobs::StubInterface& stub, std::ostream& out,
           std::ostream& err);

// Every command but health and job (a usage error here: main runs them with
// RunHealth and RunJob).
int RunInvocation(const Invocation& invocation, bridge::v1::DeviceBridge::StubInterface& stub, std::ostream& out,
                  std::ostream& err);

}  // namespace hive::ctl

// clients/hivectl/bridge_health.h
// `hivectl health`: one Check call to the standard gRPC health service
// (grpc.health.v1.Health) the bridge serves, for the whole server (service
// "") or one service by name ("hive.bridge.v1.DeviceBridge"), as a load
// balancer's or Kubernetes' gRPC probe asks. Prints the status (SERVING,
// NOT_SERVING, ...; json: {"status":"SERVING"}) and returns the exit status:
// 0 only for SERVING; 1 for any other status the bridge answers (NOT_SERVING
// while it drains), with a line on `err` saying so; 10 + the gRPC code when
// the call fails ("hivectl: UNAVAILABLE: cannot reach the bridge at ...").
//
//   std::shared_ptr<grpc::Channel> channel = *OpenBridgeChannel(invocation->global);
//   return RunHealth(invocation->global, std::get<HealthCommand>(invocation->command), channel, std::cout, std::cerr);
#pragma once

#include <grpcpp/channel.h>

#include <memory>
#include <ostream>

#include "clients/hivectl/invocation.h"

namespace hive::ctl {

int RunHealth(const GlobalOptions& global, const HealthCommand& command, const std::shared_ptr<grpc::Channel>& channel,
              std::ostream& out, std::ostream& err);

}  // namespace hive::ctl

// hivectl: the command-line client of hivebridge's DeviceBridge and FleetJobs gRPC APIs.
// `hivectl --help` lists the commands, options and exit codes.
#include <unistd.h>

#include <iostream>
#include <memory>
#include <variant>

#include "bridge/clock.h"
#include "clients/hivectl/bridge_channel.h"
#include "clients/hivectl/bridge_health.h"
#include "clients/hivectl/invocation.h"
#include "clients/hivectl/runner.h"

int main(int argc, char** argv) {
  absl::StatusOr<hive::ctl::Invocation> invocation = hive::ctl::ParseInvocation(argc, argv, environ);
  if (absl::IsCancelled(invocation.status())) {
    std::cout << invocation.status().message();
    return 0;
  }
  if (!invocation.ok()) {
    std::cerr << "hivectl: " << invocation.status().message() << "\n";
    return hive::ctl::kExitUsage;
  }
  if (const auto* token = std::get_if<hive::ctl::TokenCommand>(&invocation->command)) {
    return hive::ctl::RunToken(*token, hive::SystemClock(), std::cout, std::cerr);
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = hive::ctl::OpenBridgeChannel(invocation->global);
  if (!channel.ok()) {
    std::cerr << "hivectl: " << channel.status().message() << "\n";
    return hive::ctl::kExitUsage;
  }
  if (const auto* health = std::get_if<hive::ctl::HealthCommand>(&invocation->command)) {
    return hive::ctl::RunHealth(invocation->global, *health, *channel, std::cout, std::cerr);
  }
  if (hive::ctl::IsJobCommand(invocation->command)) {
    auto jobs = hive::bridge::v1::FleetJobs::NewStub(*channel);
    return hive::ctl::RunJob(*invocation, *jobs, std::cout, std::cerr);
  }
  auto stub = hive::bridge::v1::DeviceBridge::NewStub(*channel);
  return hive::ctl::RunInvocation(*invocation, *stub, std::cout, std::cerr);
}

// hivectl: the command-line client of hivebridge's DeviceBridge gRPC API.
// `hivectl --help` lists the commands, options and exit codes.
#include <cstdlib>
#include <iostream>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "clients/hivectl/invocation.h"
#include "clients/hivectl/runner.h"

int main(int argc, char** argv) {
  absl::StatusOr<hive::ctl::Invocation> invocation =
      hive::ctl::ParseInvocation(argc, argv, std::getenv("HIVECTL_SERVER"));
  if (absl::IsCancelled(invocation.status())) {
    std::cout << invocation.status().message();
    return 0;
  }
  if (!invocation.ok()) {
    std::cerr << "hivectl: " << invocation.status().message() << "\n";
    return hive::ctl::kExitUsage;
  }
  auto stub = hive::bridge::v1::DeviceBridge::NewStub(
      grpc::CreateChannel(invocation->global.server, grpc::InsecureChannelCredentials()));
  return hive::ctl::RunInvocation(*invocation, *stub, std::cout, std::cerr);
}

// bench/grpc_echo_server.cc
// The round-trip baseline: a bare gRPC server, built with the same toolchain
// and gRPC as the bridge, whose DeviceBridge.SendDeviceRequest answers at
// once (ACKED, echoing the request id) from the callback API's default
// reactor. It serves the bridge's own method so that hive-loadgen --echo
// runs exactly the client code it runs against the bridge; the gap between
// the two is what the bridge's hop to a device and back costs.
//
//   grpc_echo_server --listen=127.0.0.1:0     # prints "listening port=N"; stops on SIGTERM
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bench/stop_signal.h"
#include "grpcpp/grpcpp.h"
#include "hive/bridge/v1/device_bridge.grpc.pb.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "gRPC address; port 0 lets the kernel pick");

namespace hive::bench {
namespace {

using hive::bridge::v1::DeviceBridge;
using hive::bridge::v1::SendDeviceRequestRequest;
using hive::bridge::v1::SendDeviceRequestResponse;

class EchoBridge final : public DeviceBridge::CallbackService {
  grpc::ServerUnaryReactor* SendDeviceRequest(grpc::CallbackServerContext* context,
                                              const SendDeviceRequestRequest* request,
                                              SendDeviceRequestResponse* response) override {
    response->set_request_id(request->request_id());
    response->set_status(hive::bridge::v1::REQUEST_STATUS_ACKED);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

int Run() {
  BlockStopSignals();
  EchoBridge service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen), grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "grpc_echo_server: cannot listen on %s\n", absl::GetFlag(FLAGS_listen).c_str());
    return 1;
  }
  std::printf("listening port=%d\n", port);
  std::fflush(stdout);
  WaitForStopSignal();
  server->Shutdown();
  return 0;
}

}  // namespace
}  // namespace hive::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return hive::bench::Run();
}

#include "clients/hivectl/bridge_health.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/impl/codegen/proto_utils.h>  // SerializationTraits of protobuf messages

#include <chrono>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "clients/hivectl/runner.h"
#include "grpc/health/v1/health.pb.h"

namespace hive::ctl {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// The project generates only the health messages (for reflection), not a
// stub: the call goes through gRPC's generic stub by method name.
constexpr char kCheck[] = "/grpc.health.v1.Health/Check";

grpc::Status Check(const GlobalOptions& global, const std::string& service,
                   const std::shared_ptr<grpc::Channel>& channel, HealthCheckResponse& response) {
  grpc::TemplatedGenericStub<HealthCheckRequest, HealthCheckResponse> stub(channel);
  grpc::ClientContext context;
  // The deadline and the bearer token as on every call of hivectl (runner.cc).
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(global.timeout));
  if (!global.token.empty()) context.AddMetadata("authorization", absl::StrCat("Bearer ", global.token));
  HealthCheckRequest request;
  request.set_service(service);
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, kCheck, grpc::StubOptions(), &request, &response, [&](grpc::Status result) {
    status = std::move(result);
    done.Notify();
  });
  done.WaitForNotification();
  return status;
}

// What was asked about, for the messages: "the bridge at H:P" and the service.
std::string Subject(const GlobalOptions& global, const HealthCommand& command) {
  std::string subject = absl::StrCat("the bridge at ", global.server);
  if (!command.service.empty()) absl::StrAppend(&subject, " (service \"", command.service, "\")");
  return subject;
}

// "hivectl: CODE: message", the message saying what a failed call means here.
int Fail(const grpc::Status& status, const GlobalOptions& global, const HealthCommand& command, std::ostream& err) {
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  err << "hivectl: " << absl::StatusCodeToString(code) << ": ";
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      err << "cannot reach " << Subject(global, command) << ": ";
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      err << "no answer from " << Subject(global, command) << " within " << absl::FormatDuration(global.timeout)
          << " (--timeout): ";
      break;
    case grpc::StatusCode::NOT_FOUND:
      err << "the bridge at " << global.server << " has no service \"" << command.service << "\" (--service): ";
      break;
    case grpc::StatusCode::UNIMPLEMENTED:
      err << "the server at " << global.server << " has no gRPC health service: ";
      break;
    default:
      break;
  }
  err << status.error_message() << "\n";
  return ExitCodeFor(status);
}

}  // namespace

int RunHealth(const GlobalOptions& global, const HealthCommand& command, const std::shared_ptr<grpc::Channel>& channel,
              std::ostream& out, std::ostream& err) {
  HealthCheckResponse response;
  if (grpc::Status status = Check(global, command.service, channel, response); !status.ok()) {
    return Fail(status, global, command, err);
  }
  const std::string name = HealthCheckResponse::ServingStatus_Name(response.status());
  if (global.output == OutputFormat::kJson) {
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    options.always_print_primitive_fields = true;  // {"status":"UNKNOWN"} rather than {}
    std::string json;
    if (!google::protobuf::util::MessageToJsonString(response, &json, options).ok()) json = "{}";
    out << json << "\n";
  } else {
    out << name << "\n";
  }
  if (response.status() == HealthCheckResponse::SERVING) return 0;
  err << "hivectl: " << Subject(global, command) << " is " << name
      << (response.status() == HealthCheckResponse::NOT_SERVING ? ": it is draining or not ready yet" : "") << "\n";
  return kExitNotServing;
}

}  // namespace hive::ctl

#include "clients/hivectl/runner.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <grpcpp/client_context.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "bridge/auth/token_minter.h"

namespace hive::ctl {
namespace {

namespace v1 = ::hive::bridge::v1;
using google::protobuf::util::TimeUtil;

std::string Json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return "{}";
  return json;
}

std::string Time(const google::protobuf::Timestamp& time) {
  return time.seconds() == 0 && time.nanos() == 0 ? "-" : TimeUtil::ToString(time);
}

std::string Latency(const google::protobuf::Duration& duration) {
  return absl::StrFormat("%.1fms", static_cast<double>(TimeUtil::DurationToNanoseconds(duration)) / 1e6);
}

void SetDeadline(grpc::ClientContext& context, absl::Duration timeout) {
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout));
}

// Every call carries the bearer token, when there is one.
void Authorize(grpc::ClientContext& context, const GlobalOptions& global) {
  if (!global.token.empty()) context.AddMetadata("authorization", absl::StrCat("Bearer ", global.token));
}

int Fail(const grpc::Status& status, std::ostream& err) {
  err << "hivectl: " << absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())) << ": "
      << status.error_message() << "\n";
  return ExitCodeFor(status);
}

void PrintDeviceTable(const google::protobuf::RepeatedPtrField<v1::Device>& devices, std::ostream& out) {
  out << absl::StrFormat("%-36s  %-36s  %-21s  %-15s  %-20s  %-7s  %s\n", "DEVICE", "ACCOUNT", "ADDRESS", "PROTOCOL",
                         "CONNECTED", "ONLINE", "VERSION");
  for (const v1::Device& device : devices) {
    out << absl::StrFormat("%-36s  %-36s  %-21s  %-15s  %-20s  %-7s  %s\n", device.device_id(), device.account_id(),
                           device.address(), device.protocol(), Time(device.connected_at()),
                           device.online() ? "yes" : "no", device.version());
  }
}

int ListDevices(const GlobalOptions& global, const ListDevicesCommand& command, v1::DeviceBridge::StubInterface& stub,
                std::ostream& out, std::ostream& err) {
  v1::ListDevicesResponse all;
  v1::ListDevicesRequest request = command.request;
  do {
    grpc::ClientContext context;
    SetDeadline(context, global.timeout);
    Authorize(context, global);
    v1::ListDevicesResponse page;
    if (grpc::Status status = stub.ListDevices(&context, request, &page); !status.ok()) return Fail(status, err);
    for (v1::Device& device : *page.mutable_devices()) *all.add_devices() = std::move(device);
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  if (global.output == OutputFormat::kJson) {
    out << Json(all) << "\n";
  } else {
    PrintDeviceTable(all.devices(), out);
  }
  return 0;
}

int GetDevice(const GlobalOptions& global, const GetDeviceCommand& command, v1::DeviceBridge::StubInterface& stub,
              std::ostream& out, std::ostream& err) {
  grpc::ClientContext context;
  SetDeadline(context, global.timeout);
  Authorize(context, global);
  v1::GetDeviceResponse response;
  if (grpc::Status status = stub.GetDevice(&context, command.request, &response); !status.ok()) {
    return Fail(status, err);
  }
  if (global.output == OutputFormat::kJson) {
    out << Json(response.device()) << "\n";
    return 0;
  }
  const v1::Device& device = response.device();
  out << "device:     " << device.device_id() << "\n"
      << "account:    " << device.account_id() << "\n"
      << "online:     " << (device.online() ? "yes" : "no") << "\n"
      << "address:    " << device.address() << "\n"
      << "protocol:   " << device.protocol() << "\n"
      << "replica:    " << device.replica() << "\n"
      << "connected:  " << Time(device.connected_at()) << "\n"
      << "last alive: " << Time(device.last_alive_at()) << "\n";
  if (!device.online() && device.has_disconnected_at()) {
    out << "closed:     " << Time(device.disconnected_at()) << " with " << device.close_code();
    if (!device.close_reason().empty()) out << " (" << device.close_reason() << ")";
    out << "\n";
  }
  out << "version:    " << device.version() << "\n";
  // The reported events by type (the map is unordered), with when each came.
  std::vector<std::string> types;
  for (const auto& [type, event] : device.reported()) types.push_back(type);
  std::sort(types.begin(), types.end());
  for (const std::string& type : types) {
    const v1::DeviceEvent& event = device.reported().at(type);
    out << "reported:   " << type << " at " << Time(event.received_at()) << " (sequence " << event.sequence() << ")"
        << (event.schema_error().empty() ? "" : " schema error: ") << event.schema_error() << "\n";
  }
  return 0;
}

int Send(const GlobalOptions& global, const SendCommand& command, v1::DeviceBridge::StubInterface& stub,
         std::ostream& out, std::ostream& err) {
  grpc::ClientContext context;
  SetDeadline(context, global.timeout);
  Authorize(context, global);
  v1::SendDeviceRequestResponse response;
  if (grpc::Status status = stub.SendDeviceRequest(&context, command.request, &response); !status.ok()) {
    return Fail(status, err);
  }
  if (global.output == OutputFormat::kJson) {
    out << Json(response) << "\n";
  } else {
    const std::string name = v1::RequestStatus_Name(response.status());
    const std::string status(absl::StripPrefix(name, "REQUEST_STATUS_"));
    out << "request:  " << response.request_id() << "\n"
        << "status:   " << status << "\n"
        << "sent at:  " << Time(response.sent_at()) << "\n";
    if (response.has_ack_latency()) out << "ack:      " << Latency(response.ack_latency()) << "\n";
    if (response.has_result_latency()) out << "result:   " << Latency(response.result_latency()) << "\n";
    if (response.has_result()) out << "payload:  " << Json(response.result()) << "\n";
    if (!response.error().empty()) out << "error:    " << response.error() << "\n";
    if (response.has_expires_at()) out << "expires:  " << Time(response.expires_at()) << "\n";
  }
  return response.status() == v1::REQUEST_STATUS_FAILED ? kExitDeviceFailed : 0;
}

void PrintRecord(const GlobalOptions& global, const v1::RequestRecord& record, std::ostream& out) {
  if (global.output == OutputFormat::kJson) {
    out << Json(record) << "\n";
    return;
  }
  const std::string name = v1::RequestStatus_Name(record.status());
  out << "request:  " << record.request_id() << "\n"
      << "device:   " << record.device_id() << "\n"
      << "account:  " << (record.account_id().empty() ? "-" : record.account_id()) << "\n"
      << "status:   " << absl::StripPrefix(name, "REQUEST_STATUS_") << "\n"
      << "queued:   " << Time(record.queued_at()) << "\n"
      << "expires:  " << Time(record.expires_at()) << "\n"
      << "sent at:  " << Time(record.sent_at()) << "\n";
  if (record.has_ack_latency()) out << "ack:      " << Latency(record.ack_latency()) << "\n";
  if (record.has_result_latency()) out << "result:   " << Latency(record.result_latency()) << "\n";
  if (record.has_result()) out << "payload:  " << Json(record.result()) << "\n";
  if (!record.error().empty()) out << "error:    " << record.error() << "\n";
}

int GetRequest(const GlobalOptions& global, const GetRequestCommand& command, v1::DeviceBridge::StubInterface& stub,
               std::ostream& out, std::ostream& err) {
  grpc::ClientContext context;
  SetDeadline(context, global.timeout);
  Authorize(context, global);
  v1::GetRequestResponse response;
  if (grpc::Status status = stub.GetRequest(&context, command.request, &response); !status.ok()) {
    return Fail(status, err);
  }
  PrintRecord(global, response.request(), out);
  return 0;
}

int CancelRequest(const GlobalOptions& global, const CancelRequestCommand& command,
                  v1::DeviceBridge::StubInterface& stub, std::ostream& out, std::ostream& err) {
  grpc::ClientContext context;
  SetDeadline(context, global.timeout);
  Authorize(context, global);
  v1::CancelRequestResponse response;
  if (grpc::Status status = stub.CancelRequest(&context, command.request, &response); !status.ok()) {
    return Fail(status, err);
  }
  PrintRecord(global, response.request(), out);
  return 0;
}

// The event's body (the set member of its oneof) as compact JSON, cut short.
std::string ShortBody(const v1::DeviceEvent& event) {
  const google::protobuf::OneofDescriptor* oneof = v1::DeviceEvent::descriptor()->FindOneofByName("body");
  const google::protobuf::FieldDescriptor* field = event.GetReflection()->GetOneofFieldDescriptor(event, oneof);
  if (field == nullptr) return "-";
  std::string body = Json(event.GetReflection()->GetMessage(event, field));
  constexpr size_t kWidth = 100;
  if (body.size() > kWidth) body = absl::StrCat(body.substr(0, kWidth - 3), "...");
  return absl::StrCat(field->name(), " ", body);
}

int Subscribe(const GlobalOptions& global, const SubscribeCommand& command, v1::DeviceBridge::StubInterface& stub,
              std::ostream& out, std::ostream& err) {
  grpc::ClientContext context;
  if (global.timeout_given) SetDeadline(context, global.timeout);
  Authorize(context, global);
  std::unique_ptr<grpc::ClientReaderInterface<v1::SubscribeEventsResponse>> reader =
      stub.SubscribeEvents(&context, command.request);
  int64_t seen = 0;
  v1::SubscribeEventsResponse response;
  while ((command.count == 0 || seen < command.count) && reader->Read(&response)) {
    const v1::DeviceEvent& event = response.event();
    if (global.output == OutputFormat::kJson) {
      out << Json(event) << "\n";
    } else {
      out << absl::StrFormat("%s:%d  %-18s  %-36s  %s\n", event.epoch(), event.sequence(), event.type(),
                             event.device_id(), ShortBody(event));
    }
    out.flush();
    ++seen;
  }
  if (command.count != 0 && seen >= command.count) {
    context.TryCancel();
    reader->Finish();  // CANCELLED, by us
    return 0;
  }
  grpc::Status status = reader->Finish();
  return status.ok() ? 0 : Fail(status, err);
}

std::string JobStateName(v1::JobState state) {
  if (state == v1::JOB_STATE_UNSPECIFIED) return "DRY-RUN";
  return std::string(absl::StripPrefix(v1::JobState_Name(state), "JOB_STATE_"));
}

// Where the job's devices are: "3/10 succeeded, 0 failed, ...", every
// counter, so a reader sees the whole selection accounted for.
std::string Counters(const v1::JobCounters& counters) {
  return absl::StrFormat("%d/%d succeeded, %d failed, %d expired, %d skipped, %d in flight, %d queued, %d pending",
                         counters.succeeded(), counters.selected(), counters.failed(), counters.expired(),
                         counters.skipped(), counters.in_flight(), counters.queued(), counters.pending());
}

void PrintJob(const v1::Job& job, std::ostream& out) {
  out << "job:         " << job.job_id() << "\n"
      << "state:       " << JobStateName(job.state()) << "\n"
      << "wave:        " << job.wave() << " of " << std::max(1, job.spec().rollout().waves_size()) << "\n"
      << "devices:     " << Counters(job.counters()) << "\n"
      << "created:     " << Time(job.created_at()) << "\n"
      << "ended:       " << Time(job.ended_at()) << "\n";
  if (!job.end_reason().empty()) out << "reason:      " << job.end_reason() << "\n";
  if (!job.spec().description().empty()) out << "description: " << job.spec().description() << "\n";
  if (!job.account_id().empty()) out << "account:     " << job.account_id() << "\n";
  if (!job.replica().empty()) out << "replica:     " << job.replica() << "\n";
}

// A unary FleetJobs call with the deadline and the token; prints the job.
template <typename Request, typename Response, typename Call>
int JobCall(const GlobalOptions& global, const Request& request, Call call, std::ostream& out, std::ostream& err) {
  grpc::ClientContext context;
  SetDeadline(context, global.timeout);
  Authorize(context, global);
  Response response;
  if (grpc::Status status = call(&context, request, &response); !status.ok()) return Fail(status, err);
  if (global.output == OutputFormat::kJson) {
    out << Json(response) << "\n";
  } else {
    PrintJob(response.job(), out);
  }
  return 0;
}

int StartJob(const GlobalOptions& global, const StartJobCommand& command, v1::FleetJobs::StubInterface& stub,
             std::ostream& out, std::ostream& err) {
  grpc::ClientContext context;
  SetDeadline(context, global.timeout);
  Authorize(context, global);
  v1::StartJobResponse response;
  if (grpc::Status status = stub.StartJob(&context, command.request, &response); !status.ok()) {
    return Fail(status, err);
  }
  if (global.output == OutputFormat::kJson) {
    out << Json(response) << "\n";
  } else if (command.request.dry_run()) {
    for (const std::string& device : response.device_ids()) out << device << "\n";
  } else {
    PrintJob(response.job(), out);
  }
  return 0;
}

int ListJobs(const GlobalOptions& global, const ListJobsCommand& command, v1::FleetJobs::StubInterface& stub,
             std::ostream& out, std::ostream& err) {
  v1::ListJobsResponse all;
  v1::ListJobsRequest request = command.request;
  do {
    grpc::ClientContext context;
    SetDeadline(context, global.timeout);
    Authorize(context, global);
    v1::ListJobsResponse page;
    if (grpc::Status status = stub.ListJobs(&context, request, &page); !status.ok()) return Fail(status, err);
    for (v1::Job& job : *page.mutable_jobs()) *all.add_jobs() = std::move(job);
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  if (global.output == OutputFormat::kJson) {
    out << Json(all) << "\n";
    return 0;
  }
  out << absl::StrFormat("%-36s  %-9s  %-4s  %-8s  %-9s  %-6s  %-7s  %-7s  %-9s  %-6s  %-7s  %-20s  %s\n", "JOB",
                         "STATE", "WAVE", "SELECTED", "SUCCEEDED", "FAILED", "EXPIRED", "SKIPPED", "IN-FLIGHT",
                         "QUEUED", "PENDING", "CREATED", "DESCRIPTION");
  for (const v1::Job& job : all.jobs()) {
    const v1::JobCounters& c = job.counters();
    out << absl::StrFormat("%-36s  %-9s  %-4d  %-8d  %-9d  %-6d  %-7d  %-7d  %-9d  %-6d  %-7d  %-20s  %s\n",
                           job.job_id(), JobStateName(job.state()), job.wave(), c.selected(), c.succeeded(), c.failed(),
                           c.expired(), c.skipped(), c.in_flight(), c.queued(), c.pending(), Time(job.created_at()),
                           job.spec().description());
  }
  return 0;
}

// One line per change: a device's outcome, or the job's state and counters.
void PrintJobChange(const v1::WatchJobResponse& change, std::ostream& out) {
  if (change.has_outcome()) {
    const v1::JobDeviceOutcome& outcome = change.outcome();
    const std::string status(absl::StripPrefix(v1::RequestStatus_Name(outcome.status()), "REQUEST_STATUS_"));
    out << absl::StrFormat("%d  %-36s  %-11s  %s\n", change.sequence(), outcome.device_id(), status,
                           outcome.error().empty() ? "-" : outcome.error());
  } else {
    out << absl::StrFormat("%d  %-9s  wave %d  %s\n", change.sequence(), JobStateName(change.job().state()),
                           change.job().wave(), Counters(change.job().counters()));
  }
}

int WatchJob(const GlobalOptions& global, const WatchJobCommand& command, v1::FleetJobs::StubInterface& stub,
             std::ostream& out, std::ostream& err) {
  grpc::ClientContext context;
  if (global.timeout_given) SetDeadline(context, global.timeout);
  Authorize(context, global);
  std::unique_ptr<grpc::ClientReaderInterface<v1::WatchJobResponse>> reader = stub.WatchJob(&context, command.request);
  v1::WatchJobResponse change;
  while (reader->Read(&change)) {
    if (global.output == OutputFormat::kJson) {
      out << Json(change) << "\n";
    } else {
      PrintJobChange(change, out);
    }
    out.flush();
  }
  grpc::Status status = reader->Finish();
  return status.ok() ? 0 : Fail(status, err);
}

}  // namespace

int ExitCodeFor(const grpc::Status& status) {
  return status.ok() ? 0 : kExitRpcBase + static_cast<int>(status.error_code());
}

int RunToken(const TokenCommand& command, const Clock& clock, std::ostream& out, std::ostream& err) {
  absl::StatusOr<TokenMinter> minter =
      command.private_key_file.empty()
          ? TokenMinter::FromSecretFile(command.secret_file, command.expires_in, clock)
          : TokenMinter::FromPrivateKeyFile(command.private_key_file, command.expires_in, clock);
  if (!minter.ok()) {
    err << "hivectl: " << minter.status().message() << "\n";
    return kExitUsage;
  }
  absl::StatusOr<std::string> token = minter->Mint(command.device_id, command.account_id);
  if (!token.ok()) {
    err << "hivectl: " << token.status().message() << "\n";
    return kExitRpcBase + static_cast<int>(token.status().code());
  }
  out << *token << "\n";
  return 0;
}

int RunJob(const Invocation& invocation, v1::FleetJobs::StubInterface& stub, std::ostream& out, std::ostream& err) {
  const GlobalOptions& global = invocation.global;
  if (const auto* command = std::get_if<StartJobCommand>(&invocation.command)) {
    return StartJob(global, *command, stub, out, err);
  }
  if (const auto* command = std::get_if<GetJobCommand>(&invocation.command)) {
    return JobCall<v1::GetJobRequest, v1::GetJobResponse>(
        global, command->request,
        [&](grpc::ClientContext* context, const v1::GetJobRequest& request, v1::GetJobResponse* response) {
          return stub.GetJob(context, request, response);
        },
        out, err);
  }
  if (const auto* command = std::get_if<CancelJobCommand>(&invocation.command)) {
    return JobCall<v1::CancelJobRequest, v1::CancelJobResponse>(
        global, command->request,
        [&](grpc::ClientContext* context, const v1::CancelJobRequest& request, v1::CancelJobResponse* response) {
          return stub.CancelJob(context, request, response);
        },
        out, err);
  }
  if (const auto* command = std::get_if<ListJobsCommand>(&invocation.command)) {
    return ListJobs(global, *command, stub, out, err);
  }
  if (const auto* command = std::get_if<WatchJobCommand>(&invocation.command)) {
    return WatchJob(global, *command, stub, out, err);
  }
  err << "hivectl: only job commands run on the FleetJobs stub\n";
  return kExitUsage;
}

int RunInvocation(const Invocation& invocation, v1::DeviceBridge::StubInterface& stub, std::ostream& out,
                  std::ostream& err) {
  const GlobalOptions& global = invocation.global;
  if (IsJobCommand(invocation.command)) {
    err << "hivectl: job commands run on the FleetJobs stub (RunJob)\n";
    return kExitUsage;
  }
  if (const auto* command = std::get_if<ListDevicesCommand>(&invocation.command)) {
    return ListDevices(global, *command, stub, out, err);
  }
  if (const auto* command = std::get_if<GetDeviceCommand>(&invocation.command)) {
    return GetDevice(global, *command, stub, out, err);
  }
  if (const auto* command = std::get_if<SendCommand>(&invocation.command)) {
    return Send(global, *command, stub, out, err);
  }
  if (const auto* command = std::get_if<GetRequestCommand>(&invocation.command)) {
    return GetRequest(global, *command, stub, out, err);
  }
  if (const auto* command = std::get_if<CancelRequestCommand>(&invocation.command)) {
    return CancelRequest(global, *command, stub, out, err);
  }
  if (const auto* command = std::get_if<TokenCommand>(&invocation.command)) {
    return RunToken(*command, SystemClock(), out, err);
  }
  if (std::holds_alternative<HealthCommand>(invocation.command)) {
    err << "hivectl: health runs on the channel, not the DeviceBridge stub (RunHealth)\n";
    return kExitUsage;
  }
  return Subscribe(global, std::get<SubscribeCommand>(invocation.command), stub, out, err);
}

}  // namespace hive::ctl

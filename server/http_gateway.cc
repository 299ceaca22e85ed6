#include "server/http_gateway.h"

#include <httplib.h>
#include <sys/socket.h>

#include <functional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bridge/log.h"
#include "google/protobuf/util/json_util.h"
#include "hive/bridge/v1/device_bridge.grpc.pb.h"
#include "hive/bridge/v1/jobs.grpc.pb.h"
#include "server/call_trace.h"
#include "server/console_assets.h"
#include "server/grpc_health_check.h"
#include "server/grpc_http_status.h"
#include "server/http_api_routes.h"
#include "server/http_query_params.h"
#include "server/sse_stream.h"
#include "server/subscribe_events_call.h"

namespace hive::server {
namespace {

using hive::bridge::v1::DeviceBridge;
using Stub = DeviceBridge::Stub;

constexpr char kJson[] = "application/json";

void SendError(httplib::Response& res, grpc::StatusCode code, absl::string_view message) {
  res.status = HttpStatusFromGrpcCode(code);
  res.set_content(ErrorBody(code, message), kJson);
}

void SendError(httplib::Response& res, const absl::Status& status) {
  SendError(res, static_cast<grpc::StatusCode>(status.code()), status.message());
}

// proto3 JSON, as grpc-gateway writes it by default: lowerCamelCase names
// and every field, set or not, so a client sees `"status": ...` even at its
// default.
std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return "{}";
  return json;
}

void SendMessage(httplib::Response& res, const grpc::Status& status, const google::protobuf::Message& message) {
  if (!status.ok()) return SendError(res, status.error_code(), status.error_message());
  res.status = 200;
  res.set_content(ToJson(message), kJson);
}

// gRPC accepts only printable ASCII in metadata values.
bool PrintableAscii(absl::string_view value) {
  for (char c : value) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// A call's context: the caller's Authorization header becomes the
// `authorization` metadata the backend policy reads, and its W3C trace
// headers the call's `traceparent`/`tracestate` (server/call_trace.h). A
// trace header gRPC could not carry is left out: the call then starts a
// fresh trace, as for any invalid one, since tracing never fails a call.
absl::StatusOr<std::unique_ptr<grpc::ClientContext>> CallContext(const httplib::Request& req) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (req.has_header("Authorization")) {
    const std::string value = req.get_header_value("Authorization");
    if (!PrintableAscii(value)) return absl::UnauthenticatedError("Authorization header: not printable ASCII");
    context->AddMetadata("authorization", value);
  }
  for (const char* key : {kTraceparentKey, kTracestateKey}) {
    // cpp-httplib matches header names without regard to case.
    for (size_t i = 0; i < req.get_header_value_count(key); ++i) {
      const std::string value = req.get_header_value(key, i);
      if (PrintableAscii(value)) context->AddMetadata(key, value);
    }
  }
  return context;
}

// The bridge's answer to the trace headers (the call's initial metadata) as
// HTTP response headers: the caller learns the trace of its call, fresh or
// continued.
void CopyTraceHeaders(const grpc::ClientContext& context, httplib::Response& res) {
  const auto& metadata = context.GetServerInitialMetadata();
  for (const char* key : {kTraceparentKey, kTracestateKey}) {
    auto it = metadata.find(key);
    if (it != metadata.end()) res.set_header(key, std::string(it->second.data(), it->second.size()));
  }
}

// The request body as `message` (an empty body is {}); unknown fields and
// type mismatches are INVALID_ARGUMENT naming them.
absl::Status ParseBody(const httplib::Request& req, google::protobuf::Message& message) {
  const std::string body = req.body.empty() ? "{}" : req.body;
  const auto parsed = google::protobuf::util::JsonStringToMessage(body, &message);
  if (parsed.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("request body: ", std::string(parsed.message())));
}

// Every query parameter onto `message`, except those in `skip`.
absl::Status ParseQuery(const httplib::Request& req, google::protobuf::Message& message,
                        std::initializer_list<absl::string_view> skip = {}) {
  for (const auto& [name, value] : req.params) {
    if (std::find(skip.begin(), skip.end(), name) != skip.end()) continue;
    if (absl::Status set = SetQueryParameter(message, name, value); !set.ok()) return set;
  }
  return absl::OkStatus();
}

// The path's id wins; one in the body or query must agree with it.
absl::Status TakePathId(absl::string_view field, const std::string& from_path, std::string& in_message) {
  if (!in_message.empty() && in_message != from_path) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": \"", in_message, "\" differs from the path's \"",
                                                   from_path, "\" (leave it out or make them equal)"));
  }
  in_message = from_path;
  return absl::OkStatus();
}

// One unary call: `call` runs the stub's method with the context.
template <typename Request, typename Response>
void Unary(const httplib::Request& req, httplib::Response& res, const Request& request,
           const std::function<grpc::Status(grpc::ClientContext*, const Request&, Response*)>& call) {
  absl::StatusOr<std::unique_ptr<grpc::ClientContext>> context = CallContext(req);
  if (!context.ok()) return SendError(res, context.status());
  Response response;
  const grpc::Status status = call(context->get(), request, &response);
  SendMessage(res, status, response);
  CopyTraceHeaders(**context, res);
}

// The `id:` of an event: where a resume continues after it.
std::string EventId(const hive::bridge::v1::DeviceEvent& event) {
  return absl::StrCat(event.epoch(), ":", event.sequence());
}

// A server stream as Server-Sent Events: `start` binds the pump to the stub's
// call; `format` turns each message into an event. A stream the bridge
// refuses before accepting it (a bad filter, the policy, --max-subscribers)
// is answered with its HTTP status and error body instead, so EventSource
// does not retry what cannot succeed.
template <typename Request, typename Response>
void Stream(const httplib::Request& req, httplib::Response& res, std::shared_ptr<Request> request,
            const std::function<void(grpc::ClientContext*, const Request*, grpc::ClientReadReactor<Response>*)>& start,
            std::function<std::string(const Response&)> format, absl::Duration heartbeat) {
  absl::StatusOr<std::unique_ptr<grpc::ClientContext>> context = CallContext(req);
  if (!context.ok()) return SendError(res, context.status());
  auto pump = std::make_shared<GrpcStreamPump<Response>>(*std::move(context), kStreamAcceptedMetadata);
  start(&pump->context(), request.get(), pump.get());
  pump->Start();
  std::optional<grpc::Status> refused = pump->AwaitAccepted();
  // Accepted or over, the initial metadata is in and no longer changes.
  CopyTraceHeaders(pump->context(), res);
  if (refused.has_value()) {
    pump->Cancel();
    return SendError(res, refused->error_code(), refused->error_message());
  }
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  // nginx buffers responses unless told not to.
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [pump, request, format = std::move(format), heartbeat](size_t, httplib::DataSink& sink) {
        typename GrpcStreamPump<Response>::Next next = pump->Wait(heartbeat);
        std::string frame;
        if (next.message.has_value()) {
          frame = format(*next.message);
        } else if (next.end.has_value()) {
          if (!next.end->ok())
            frame = SseEvent("", "error", ErrorBody(next.end->error_code(), next.end->error_message()));
          if (!frame.empty() && !sink.write(frame.data(), frame.size())) return false;
          sink.done();
          return true;
        } else {
          frame = std::string(kSseHeartbeat);
        }
        // False when the reader went away: the releaser below ends the call.
        return sink.write(frame.data(), frame.size());
      },
      [pump, request](bool) { pump->Cancel(); });
}

// Serves the /api/v1 endpoints on the in-process channel's stub.
class Api {
 public:
  // stub_ is initialised (from `channel`) before health_ takes it.
  Api(std::shared_ptr<grpc::Channel> channel, absl::Duration heartbeat)
      : stub_(DeviceBridge::NewStub(channel)),
        jobs_(hive::bridge::v1::FleetJobs::NewStub(channel)),
        health_(std::move(channel)),
        heartbeat_(heartbeat) {}

  void Serve(const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<ApiRoute> route = ResolveApiRoute(req.method, req.path);
    if (!route.ok()) {
      if (route.status().code() != absl::StatusCode::kUnimplemented) return SendError(res, route.status());
      // A known path with another method: 405, as grpc-gateway answers it.
      SendError(res, grpc::StatusCode::UNIMPLEMENTED, route.status().message());
      res.status = 405;
      return;
    }
    switch (route->rpc) {
      case ApiRpc::kSendDeviceRequest:
        return SendDeviceRequest(req, res, route->id);
      case ApiRpc::kListDevices:
        return ListDevices(req, res);
      case ApiRpc::kGetDevice:
        return GetDevice(req, res, route->id);
      case ApiRpc::kGetRequest:
        return GetRequest(req, res, route->id);
      case ApiRpc::kCancelRequest:
        return CancelRequest(req, res, route->id);
      case ApiRpc::kSubscribeEvents:
        return SubscribeEvents(req, res);
      case ApiRpc::kWatchDevices:
        return WatchDevices(req, res);
      case ApiRpc::kHealth:
        return Health(req, res);
      case ApiRpc::kStartJob:
        return StartJob(req, res);
      case ApiRpc::kListJobs:
        return ListJobs(req, res);
      case ApiRpc::kGetJob:
        return GetJob(req, res, route->id);
      case ApiRpc::kCancelJob:
        return CancelJob(req, res, route->id);
      case ApiRpc::kWatchJob:
        return WatchJob(req, res, route->id);
    }
  }

 private:
  void SendDeviceRequest(const httplib::Request& req, httplib::Response& res, const std::string& device_id) {
    hive::bridge::v1::SendDeviceRequestRequest request;
    if (absl::Status parsed = ParseBody(req, request); !parsed.ok()) return SendError(res, parsed);
    if (absl::Status id = TakePathId("device_id", device_id, *request.mutable_device_id()); !id.ok()) {
      return SendError(res, id);
    }
    Unary<hive::bridge::v1::SendDeviceRequestRequest, hive::bridge::v1::SendDeviceRequestResponse>(
        req, res, request,
        [this](auto* context, const auto& in, auto* out) { return stub_->SendDeviceRequest(context, in, out); });
  }

  void ListDevices(const httplib::Request& req, httplib::Response& res) {
    hive::bridge::v1::ListDevicesRequest request;
    if (absl::Status parsed = ParseQuery(req, request); !parsed.ok()) return SendError(res, parsed);
    Unary<hive::bridge::v1::ListDevicesRequest, hive::bridge::v1::ListDevicesResponse>(
        req, res, request,
        [this](auto* context, const auto& in, auto* out) { return stub_->ListDevices(context, in, out); });
  }

  void GetDevice(const httplib::Request& req, httplib::Response& res, const std::string& device_id) {
    hive::bridge::v1::GetDeviceRequest request;
    if (absl::Status parsed = ParseQuery(req, request); !parsed.ok()) return SendError(res, parsed);
    if (absl::Status id = TakePathId("device_id", device_id, *request.mutable_device_id()); !id.ok()) {
      return SendError(res, id);
    }
    Unary<hive::bridge::v1::GetDeviceRequest, hive::bridge::v1::GetDeviceResponse>(
        req, res, request,
        [this](auto* context, const auto& in, auto* out) { return stub_->GetDevice(context, in, out); });
  }

  void GetRequest(const httplib::Request& req, httplib::Response& res, const std::string& request_id) {
    hive::bridge::v1::GetRequestRequest request;
    if (absl::Status parsed = ParseQuery(req, request); !parsed.ok()) return SendError(res, parsed);
    if (absl::Status id = TakePathId("request_id", request_id, *request.mutable_request_id()); !id.ok()) {
      return SendError(res, id);
    }
    Unary<hive::bridge::v1::GetRequestRequest, hive::bridge::v1::GetRequestResponse>(
        req, res, request,
        [this](auto* context, const auto& in, auto* out) { return stub_->GetRequest(context, in, out); });
  }

  void CancelRequest(const httplib::Request& req, httplib::Response& res, const std::string& request_id) {
    hive::bridge::v1::CancelRequestRequest request;
    if (absl::Status parsed = ParseBody(req, request); !parsed.ok()) return SendError(res, parsed);
    if (absl::Status id = TakePathId("request_id", request_id, *request.mutable_request_id()); !id.ok()) {
      return SendError(res, id);
    }
    Unary<hive::bridge::v1::CancelRequestRequest, hive::bridge::v1::CancelRequestResponse>(
        req, res, request,
        [this](auto* context, const auto& in, auto* out) { return stub_->CancelRequest(context, in, out); });
  }

  void SubscribeEvents(const httplib::Request& req, httplib::Response& res) {
    auto request = std::make_shared<hive::bridge::v1::SubscribeEventsRequest>();
    if (absl::Status parsed = ParseQuery(req, *request, {"resume_after", "resumeAfter"}); !parsed.ok()) {
      return SendError(res, parsed);
    }
    // The shorthand resume_after=<epoch>:<sequence>; Last-Event-ID (an
    // EventSource reconnecting) wins over it, being the later point.
    for (const char* name : {"resume_after", "resumeAfter"}) {
      if (!req.has_param(name)) continue;
      absl::StatusOr<hive::bridge::v1::StreamPosition> position =
          ParseStreamPosition(req.get_param_value(name), absl::StrCat("query parameter \"", name, "\""));
      if (!position.ok()) return SendError(res, position.status());
      *request->mutable_resume_after() = *std::move(position);
    }
    if (req.has_header("Last-Event-ID")) {
      absl::StatusOr<hive::bridge::v1::StreamPosition> position =
          ParseStreamPosition(req.get_header_value("Last-Event-ID"), "Last-Event-ID header");
      if (!position.ok()) return SendError(res, position.status());
      *request->mutable_resume_after() = *std::move(position);
    }
    Stream<hive::bridge::v1::SubscribeEventsRequest, hive::bridge::v1::SubscribeEventsResponse>(
        req, res, request,
        [this](auto* context, const auto* in, auto* reactor) { stub_->async()->SubscribeEvents(context, in, reactor); },
        [](const hive::bridge::v1::SubscribeEventsResponse& response) {
          return SseEvent(EventId(response.event()), response.event().type(), ToJson(response.event()));
        },
        heartbeat_);
  }

  void WatchDevices(const httplib::Request& req, httplib::Response& res) {
    auto request = std::make_shared<hive::bridge::v1::WatchDevicesRequest>();
    if (absl::Status parsed = ParseQuery(req, *request); !parsed.ok()) return SendError(res, parsed);
    Stream<hive::bridge::v1::WatchDevicesRequest, hive::bridge::v1::WatchDevicesResponse>(
        req, res, request,
        [this](auto* context, const auto* in, auto* reactor) { stub_->async()->WatchDevices(context, in, reactor); },
        [](const hive::bridge::v1::WatchDevicesResponse& response) {
          return SseEvent("", response.snapshot_complete() ? "snapshot-complete" : "device", ToJson(response));
        },
        heartbeat_);
  }

  // FleetJobs (docs/jobs.md): the job id from the path, as the device and
  // request ids above.
  void StartJob(const httplib::Request& req, httplib::Response& res) {
    hive::bridge::v1::StartJobRequest request;
    if (absl::Status parsed = ParseBody(req, request); !parsed.ok()) return SendError(res, parsed);
    Unary<hive::bridge::v1::StartJobRequest, hive::bridge::v1::StartJobResponse>(
        req, res, request,
        [this](auto* context, const auto& in, auto* out) { return jobs_->StartJob(context, in, out); });
  }

  void ListJobs(const httplib::Request& req, httplib::Response& res) {
    hive::bridge::v1::ListJobsRequest request;
    if (absl::Status parsed = ParseQuery(req, request); !parsed.ok()) return SendError(res, parsed);
    Unary<hive::bridge::v1::ListJobsRequest, hive::bridge::v1::ListJobsResponse>(
        req, res, request,
        [this](auto* context, const auto& in, auto* out) { return jobs_->ListJobs(context, in, out); });
  }

  void GetJob(const httplib::Request& req, httplib::Response& res, const std::string& job_id) {
    hive::bridge::v1::GetJobRequest request;
    if (absl::Status parsed = ParseQuery(req, request); !parsed.ok()) return SendError(res, parsed);
    if (absl::Status id = TakePathId("job_id", job_id, *request.mutable_job_id()); !id.ok()) return SendError(res, id);
    Unary<hive::bridge::v1::GetJobRequest, hive::bridge::v1::GetJobResponse>(
        req, res, request,
        [this](auto* context, const auto& in, auto* out) { return jobs_->GetJob(context, in, out); });
  }

  void CancelJob(const httplib::Request& req, httplib::Response& res, const std::string& job_id) {
    hive::bridge::v1::CancelJobRequest request;
    if (absl::Status parsed = ParseBody(req, request); !parsed.ok()) return SendError(res, parsed);
    if (absl::Status id = TakePathId("job_id", job_id, *request.mutable_job_id()); !id.ok()) return SendError(res, id);
    Unary<hive::bridge::v1::CancelJobRequest, hive::bridge::v1::CancelJobResponse>(
        req, res, request,
        [this](auto* context, const auto& in, auto* out) { return jobs_->CancelJob(context, in, out); });
  }

  // Each change as an event whose id is its sequence (`job`, or `outcome`
  // for a device's); Last-Event-ID resumes after it. The stream ends when
  // the job has.
  void WatchJob(const httplib::Request& req, httplib::Response& res, const std::string& job_id) {
    auto request = std::make_shared<hive::bridge::v1::WatchJobRequest>();
    if (absl::Status parsed = ParseQuery(req, *request); !parsed.ok()) return SendError(res, parsed);
    if (absl::Status id = TakePathId("job_id", job_id, *request->mutable_job_id()); !id.ok()) {
      return SendError(res, id);
    }
    if (req.has_header("Last-Event-ID")) {
      uint64_t after = 0;
      if (!absl::SimpleAtoi(req.get_header_value("Last-Event-ID"), &after)) {
        return SendError(res, absl::InvalidArgumentError("Last-Event-ID header: not a job change's sequence"));
      }
      request->set_resume_after(after);
    }
    Stream<hive::bridge::v1::WatchJobRequest, hive::bridge::v1::WatchJobResponse>(
        req, res, request,
        [this](auto* context, const auto* in, auto* reactor) { jobs_->async()->WatchJob(context, in, reactor); },
        [](const hive::bridge::v1::WatchJobResponse& response) {
          return SseEvent(absl::StrCat(response.sequence()), response.has_outcome() ? "outcome" : "job",
                          ToJson(response));
        },
        heartbeat_);
  }

  // grpc.health.v1.Health/Check (query: `service`): 200 while SERVING, 503
  // with the same body otherwise, so a plain HTTP probe reads it too.
  void Health(const httplib::Request& req, httplib::Response& res) {
    grpc::health::v1::HealthCheckRequest request;
    if (absl::Status parsed = ParseQuery(req, request); !parsed.ok()) return SendError(res, parsed);
    absl::StatusOr<std::unique_ptr<grpc::ClientContext>> context = CallContext(req);
    if (!context.ok()) return SendError(res, context.status());
    (*context)->set_deadline(absl::ToChronoTime(absl::Now() + kHealthDeadline));
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = health_.Check(context->get(), request, &response);
    SendMessage(res, status, response);
    if (status.ok() && response.status() != grpc::health::v1::HealthCheckResponse::SERVING) res.status = 503;
  }

  static constexpr absl::Duration kHealthDeadline = absl::Seconds(5);

  const std::unique_ptr<Stub> stub_;
  const std::unique_ptr<hive::bridge::v1::FleetJobs::Stub> jobs_;
  GrpcHealthCheck health_;
  const absl::Duration heartbeat_;
};

// HOST:PORT as --http-listen takes it ([IPv6]:PORT; an empty host is every
// interface), already validated by the config.
std::pair<std::string, int> SplitListen(absl::string_view listen) {
  const size_t colon = listen.rfind(':');
  std::string host(listen.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  int port = 0;
  if (!absl::SimpleAtoi(listen.substr(colon + 1), &port)) port = -1;
  return {host, port};
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpGateway>> HttpGateway::Start(const HttpGatewayOptions& options,
                                                                std::shared_ptr<grpc::Channel> channel) {
  std::unique_ptr<HttpGateway> gateway(new HttpGateway);
  if (!options.tls_cert_file.empty()) {
    auto server = std::make_unique<httplib::SSLServer>(options.tls_cert_file.c_str(), options.tls_key_file.c_str());
    if (!server->is_valid()) {
      return absl::InvalidArgumentError(absl::StrCat("--http-listen: cannot serve HTTPS with --grpc-tls-cert ",
                                                     options.tls_cert_file, " and --grpc-tls-key"));
    }
    gateway->server_ = std::move(server);
  } else {
    gateway->server_ = std::make_unique<httplib::Server>();
  }
  httplib::Server& server = *gateway->server_;
  const int threads = options.threads;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  server.set_payload_max_length(options.max_body_bytes);
  auto api = std::make_shared<Api>(std::move(channel), options.heartbeat);
  // The web console (server/console_assets.h), before the API's catch-all.
  server.Get(absl::StrCat(kConsolePath, "(/.*)?"), [](const httplib::Request& req, httplib::Response& res) {
    const ConsoleAnswer answer = AnswerConsole(req.path);
    for (const auto& [name, value] : kConsoleHeaders) res.set_header(std::string(name), std::string(value));
    if (answer.status == 301) return res.set_redirect(answer.location, 301);
    if (answer.status != 200)
      return SendError(res, grpc::StatusCode::NOT_FOUND, absl::StrCat("no such file: ", req.path));
    res.status = 200;
    res.set_content(answer.body.data(), answer.body.size(), answer.content_type);
  });
  const httplib::Server::Handler serve = [api](const httplib::Request& req, httplib::Response& res) {
    api->Serve(req, res);
  };
  const std::string any = ".*";
  server.Get(any, serve);
  server.Post(any, serve);
  server.Put(any, serve);
  server.Patch(any, serve);
  server.Delete(any, serve);
  server.Options(any, serve);
  // What cpp-httplib refuses before a handler runs (a body over the limit,
  // an unparsable request) gets the same error body as the API's errors.
  LimitCounters* counters = options.counters;
  const size_t max_body = options.max_body_bytes;
  server.set_error_handler([counters, max_body](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    const int status = res.status;
    if (status == 400 && req.method == "POST" && !req.has_header("Content-Length") &&
        !req.has_header("Transfer-Encoding")) {
      SendError(res, grpc::StatusCode::INVALID_ARGUMENT,
                "a POST needs a body or Content-Length: 0 (curl: -d '' or -d '{}')");
    } else if (status == 413) {
      CountIn(counters, Limit::kMaxMessageBytes);
      SendError(res, grpc::StatusCode::RESOURCE_EXHAUSTED,
                absl::StrCat("request body over --max-message-bytes (", max_body, " bytes)"));
    } else {
      SendError(res, grpc::StatusCode::INVALID_ARGUMENT, absl::StrCat("bad HTTP request (", status, ")"));
    }
    res.status = status;
  });

  // cpp-httplib's default sets SO_REUSEPORT, which would let a second bridge
  // on the same --http-listen start and take half the requests: only
  // SO_REUSEADDR (a restart need not wait out TIME_WAIT).
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  const auto [host, port] = SplitListen(options.listen);
  const int bound = port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) return absl::UnavailableError(absl::StrCat("--http-listen: cannot listen on ", options.listen));
  gateway->port_ = bound;
  gateway->listener_ = std::thread([&server, done = &gateway->listener_done_] {
    server.listen_after_bind();
    *done = true;
  });
  return gateway;
}

HttpGateway::~HttpGateway() { Stop(); }

void HttpGateway::Stop() {
  if (!listener_.joinable()) return;
  // stop() only stops a server that runs: wait for the listener to start
  // (it is at most a moment away) or to have given up.
  while (!server_->is_running() && !listener_done_) std::this_thread::yield();
  server_->stop();
  listener_.join();
}

}  // namespace hive::server

#include "server/grpc_call_metrics.h"

#include <chrono>

#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "grpcpp/support/status.h"
#include "server/cached_series.h"

namespace hive::server {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::ServerRpcInfo;

// go-grpc-prometheus's bucket boundaries would start at 5 ms; a request to a
// device on a LAN answers in well under that, so these start at 0.5 ms.
const prometheus::Histogram::BucketBoundaries kHandlingBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};

// go-grpc-prometheus's grpc_type values.
const char* TypeName(ServerRpcInfo::Type type) {
  switch (type) {
    case ServerRpcInfo::Type::UNARY:
      return "unary";
    case ServerRpcInfo::Type::CLIENT_STREAMING:
      return "client_stream";
    case ServerRpcInfo::Type::SERVER_STREAMING:
      return "server_stream";
    case ServerRpcInfo::Type::BIDI_STREAMING:
      return "bidi_stream";
  }
  return "unknown";
}

// grpc::StatusCode's names, as go-grpc-prometheus writes them.
const char* CodeName(int code) {
  static const char* const kNames[] = {
      "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  return code >= 0 && code < 17 ? kNames[code] : "Unknown";
}

// One per call: counts the start when created, the end when the status goes out.
class CallInterceptor final : public grpc::experimental::Interceptor {
 public:
  CallInterceptor(GrpcCallMetrics& metrics, GrpcCallMetrics::MethodSeries& series)
      : metrics_(metrics), series_(series), started_(std::chrono::steady_clock::now()) {
    series_.started->Increment();
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started_;
      metrics_.Handled(series_, static_cast<int>(methods->GetSendStatus().error_code()), took.count());
    }
    methods->Proceed();
  }

 private:
  GrpcCallMetrics& metrics_;
  GrpcCallMetrics::MethodSeries& series_;
  const std::chrono::steady_clock::time_point started_;
};

class CallCounting final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallCounting(GrpcCallMetrics& metrics) : metrics_(metrics) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(ServerRpcInfo* info) override {
    return new CallInterceptor(metrics_, metrics_.SeriesOf(info->method(), info->type()));
  }

 private:
  GrpcCallMetrics& metrics_;
};

}  // namespace

GrpcCallMetrics::GrpcCallMetrics(prometheus::Registry& registry)
    : started_(prometheus::BuildCounter()
                   .Name("grpc_server_started_total")
                   .Help("Total number of RPCs started on the server.")
                   .Register(registry)),
      handled_(prometheus::BuildCounter()
                   .Name("grpc_server_handled_total")
                   .Help("Total number of RPCs completed on the server, regardless of success or failure.")
                   .Register(registry)),
      handling_(prometheus::BuildHistogram()
                    .Name("grpc_server_handling_seconds")
                    .Help("Histogram of response latency (seconds) of gRPC that had been application-level "
                          "handled by the server.")
                    .Register(registry)) {}

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
GrpcCallMetrics::InterceptorCreators() {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<CallCounting>(*this));
  return creators;
}

GrpcCallMetrics::MethodSeries& GrpcCallMetrics::SeriesOf(const char* method, ServerRpcInfo::Type type) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<MethodSeries>& series = methods_[method];
  if (series == nullptr) {
    series = std::make_unique<MethodSeries>();
    // "/hive.bridge.v1.DeviceBridge/SendDeviceRequest": service, then method.
    absl::string_view name(method);
    absl::ConsumePrefix(&name, "/");
    const size_t slash = name.rfind('/');
    series->labels = {{"grpc_type", TypeName(type)},
                      {"grpc_service", std::string(name.substr(0, slash == absl::string_view::npos ? 0 : slash))},
                      {"grpc_method", std::string(slash == absl::string_view::npos ? name : name.substr(slash + 1))}};
    series->started = &started_.Add(series->labels);
    series->handling = &handling_.Add(series->labels, kHandlingBuckets);
  }
  return *series;
}

void GrpcCallMetrics::Handled(MethodSeries& series, int code, double seconds) {
  if (code < 0 || code >= static_cast<int>(series.handled.size())) code = static_cast<int>(grpc::StatusCode::UNKNOWN);
  CachedSeries(series.handled[code], handled_, [&] {
    prometheus::Labels labels = series.labels;
    labels["grpc_code"] = CodeName(code);
    return labels;
  }).Increment();
  series.handling->Observe(seconds);
}

}  // namespace hive::server

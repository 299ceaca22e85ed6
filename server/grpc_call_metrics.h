// server/grpc_call_metrics.h
// gRPC calls in /metrics under the names go-grpc-prometheus (and the
// java and python ports) export, so the dashboards and alerts written for
// them work unchanged:
//   grpc_server_started_total{grpc_type,grpc_service,grpc_method}
//   grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}
//   grpc_server_handling_seconds{grpc_type,grpc_service,grpc_method}  (histogram)
// Counted by a server interceptor, so every method (health and reflection
// included) is counted without each call counting itself. A stream's
// handling time is its whole life.
//
//   GrpcCallMetrics metrics(registry);
//   builder.experimental().SetInterceptorCreators(metrics.InterceptorCreators());
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/server_interceptor.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace hive::server {

class GrpcCallMetrics {
 public:
  // The time series of one method: found once per call, created once.
  struct MethodSeries {
    prometheus::Counter* started = nullptr;
    prometheus::Histogram* handling = nullptr;
    prometheus::Labels labels;
    // By grpc::StatusCode (0-16), created on first use.
    std::array<std::atomic<prometheus::Counter*>, 17> handled{};
  };

  // Registers the three families in `registry`, which must outlive this.
  explicit GrpcCallMetrics(prometheus::Registry& registry);

  // For ServerBuilder::experimental().SetInterceptorCreators: each creator
  // counts into this object, which must outlive the server.
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> InterceptorCreators();

  // The series of `method` ("/package.Service/Method") of `type`. Thread-safe.
  MethodSeries& SeriesOf(const char* method, grpc::experimental::ServerRpcInfo::Type type);

  // Counts a call of `series` that ended with `code` after `seconds`.
  void Handled(MethodSeries& series, int code, double seconds);

 private:
  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& handling_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<MethodSeries>> methods_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hive::server

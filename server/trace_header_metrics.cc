#include "server/trace_header_metrics.h"

#include "prometheus/family.h"

namespace hive::server {
namespace {

prometheus::Family<prometheus::Counter>& IgnoredFamily(prometheus::Registry& registry) {
  return prometheus::BuildCounter()
      .Name("hivebridge_trace_headers_ignored_total")
      .Help(
          "Calls whose traceparent was invalid (a fresh trace was started) or whose tracestate was dropped "
          "(over 512 bytes or not printable ASCII).")
      .Register(registry);
}

}  // namespace

TraceHeaderMetrics::TraceHeaderMetrics(prometheus::Registry& registry)
    : invalid_traceparent_(IgnoredFamily(registry).Add({{"reason", "invalid_traceparent"}})),
      tracestate_dropped_(IgnoredFamily(registry).Add({{"reason", "tracestate_dropped"}})) {}

void TraceHeaderMetrics::Count(const TraceContext& trace) {
  if (trace.invalid_header) invalid_traceparent_.Increment();
  if (trace.tracestate_dropped) tracestate_dropped_.Increment();
}

}  // namespace hive::server

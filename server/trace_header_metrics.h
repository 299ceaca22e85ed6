// server/trace_header_metrics.h
// Trace headers a call brought that the bridge could not use (the call goes
// on with a fresh trace, or without the tracestate: tracing never fails a
// call, so this count is where the loss shows), in /metrics:
//   hivebridge_trace_headers_ignored_total{reason="invalid_traceparent"}
//   hivebridge_trace_headers_ignored_total{reason="tracestate_dropped"}
//
//   TraceHeaderMetrics metrics(registry);
//   metrics.Count(trace);   // server/call_trace.h does, for every call
#pragma once

#include "bridge/trace_context.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace hive::server {

class TraceHeaderMetrics {
 public:
  // Registers the family, both series at 0, in `registry`, which must
  // outlive this.
  explicit TraceHeaderMetrics(prometheus::Registry& registry);

  // Counts what `trace` could not take from its headers. Thread-safe.
  void Count(const TraceContext& trace);

 private:
  prometheus::Counter& invalid_traceparent_;
  prometheus::Counter& tracestate_dropped_;
};

}  // namespace hive::server

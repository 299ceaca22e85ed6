// server/call_trace.h
// The trace context of one gRPC call (bridge/trace_context.h): read from the
// caller's `traceparent` and `tracestate` metadata, and answered in the
// call's initial metadata (`traceparent` naming the bridge's span for the
// call, `tracestate` unchanged), for unary calls and streams alike. Call it
// in the handler, before anything sends the initial metadata.
//
//   TraceContext trace = TraceCall(*context);
//   AuditDeviceRequest(..., trace.trace_id);
#pragma once

#include "bridge/trace_context.h"
#include "grpcpp/grpcpp.h"
#include "server/trace_header_metrics.h"

namespace hive::server {

inline constexpr char kTraceparentKey[] = "traceparent";
inline constexpr char kTracestateKey[] = "tracestate";

// More than one `traceparent` is invalid (a fresh trace); several
// `tracestate` values are joined with ',' as the spec's list is. Headers it
// could not use are counted in `metrics` (may be null).
TraceContext TraceCall(grpc::ServerContextBase& context, TraceHeaderMetrics* metrics);

}  // namespace hive::server

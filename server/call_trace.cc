#include "server/call_trace.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace hive::server {

TraceContext TraceCall(grpc::ServerContextBase& context, TraceHeaderMetrics* metrics) {
  const auto& metadata = context.client_metadata();
  const auto traceparents = metadata.equal_range(kTraceparentKey);
  size_t count = 0;
  absl::string_view traceparent;
  for (auto it = traceparents.first; it != traceparents.second; ++it, ++count) {
    traceparent = absl::string_view(it->second.data(), it->second.size());
  }
  std::string tracestate;
  const auto tracestates = metadata.equal_range(kTracestateKey);
  for (auto it = tracestates.first; it != tracestates.second; ++it) {
    absl::StrAppend(&tracestate, tracestate.empty() ? "" : ",",
                    absl::string_view(it->second.data(), it->second.size()));
  }
  TraceContext trace = TraceContext::Continue(traceparent, tracestate);
  if (count > 1) {
    // Two traceparents name no one parent: a fresh trace, as for an invalid
    // header (and without the tracestate that went with them).
    trace = TraceContext::Fresh();
    trace.invalid_header = true;
  }
  if (metrics != nullptr) metrics->Count(trace);
  context.AddInitialMetadata(kTraceparentKey, trace.Traceparent());
  if (!trace.tracestate.empty()) context.AddInitialMetadata(kTracestateKey, trace.tracestate);
  return trace;
}

}  // namespace hive::server

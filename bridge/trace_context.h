// bridge/trace_context.h
// W3C Trace Context (level 1) for one call: the trace a backend's call
// belongs to, read from its `traceparent` header, and the span the bridge
// opens for the call, so that every log line of the call, the request routed
// to another replica and (when asked) the device's frame name the same trace.
// Tracing never fails a call: an absent or invalid header starts a fresh
// trace.
//
//   TraceContext trace = TraceContext::Continue(traceparent_header, tracestate_header);
//   Log(..., {{"request", id}, {"trace", trace.trace_id}});
//   response metadata: traceparent = trace.Traceparent()   // 00-<trace>-<bridge span>-<flags>
//
// A plain value: it travels by copy in the call's and the request's state
// (never a thread_local, since a call's callbacks run on many threads).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace hive {

// What a valid `traceparent` header says.
struct Traceparent {
  uint8_t version = 0;
  std::string trace_id;   // 32 lowercase hex digits, not all zero
  std::string parent_id;  // 16 lowercase hex digits, not all zero
  uint8_t flags = 0;      // trace-flags; bit 0 is "sampled"
};

// Parses `value` as the spec says: version 00 is exactly
// "00-<trace-id>-<parent-id>-<flags>" in lowercase hex; a later version
// (01 to fe) is read by those four fields and may go on after a '-'; version
// ff, uppercase hex, all-zero ids and any other shape are invalid (nullopt).
std::optional<Traceparent> ParseTraceparent(absl::string_view value);

// Longest `tracestate` passed on; a longer one is dropped (the spec lets a
// vendor drop what it cannot carry, and 512 bytes is its own minimum).
inline constexpr size_t kMaxTracestateBytes = 512;

struct TraceContext {
  std::string trace_id;
  // This call's span, new for every call: 16 lowercase hex digits.
  std::string span_id;
  // The caller's span (the parent of span_id); empty for a fresh trace.
  std::string parent_id;
  // Passed on as received (a later version's unknown flags are dropped:
  // only "sampled" is known to version 00).
  uint8_t flags = 0;
  // The caller's `tracestate`, unchanged; empty when absent or dropped.
  std::string tracestate;
  // The caller sent a traceparent that was not valid (a fresh trace was
  // started instead).
  bool invalid_header = false;
  // The caller sent a tracestate with a valid traceparent, and it was not
  // kept (too long, or not printable ASCII).
  bool tracestate_dropped = false;

  // A new trace with a new span; flags 00 (the bridge samples nothing).
  static TraceContext Fresh();
  // The trace `traceparent` names, with a new span; a fresh trace when it is
  // empty or invalid. `tracestate` is kept when the traceparent is valid, at
  // most kMaxTracestateBytes and printable ASCII.
  static TraceContext Continue(absl::string_view traceparent, absl::string_view tracestate);

  // "00-<trace_id>-<span_id>-<flags>": this call as the parent of whatever it
  // causes (the response's header, a routed request, the device's frame).
  std::string Traceparent() const;
};

}  // namespace hive

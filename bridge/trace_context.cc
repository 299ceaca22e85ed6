#include "bridge/trace_context.h"

#include <string>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"

namespace hive {
namespace {

constexpr size_t kVersion00Length = 55;  // 2 + 1 + 32 + 1 + 16 + 1 + 2

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool AllLowerHex(absl::string_view digits) {
  for (char c : digits) {
    if (!IsLowerHex(c)) return false;
  }
  return true;
}

bool AllZero(absl::string_view digits) { return digits.find_first_not_of('0') == absl::string_view::npos; }

uint8_t HexByte(absl::string_view two) {
  const auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  return static_cast<uint8_t>(nibble(two[0]) * 16 + nibble(two[1]));
}

bool PrintableAscii(absl::string_view value) {
  for (char c : value) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// Random hex of `bytes` bytes, never all zero (the spec's invalid value).
std::string RandomHex(size_t bytes) {
  // absl::BitGen is not thread-safe; one per thread avoids a lock.
  thread_local absl::BitGen gen;
  std::string hex;
  do {
    hex.clear();
    for (size_t i = 0; i < bytes; i += 8) {
      const uint64_t word = absl::Uniform<uint64_t>(gen);
      absl::StrAppendFormat(&hex, "%016x", word);
    }
    hex.resize(bytes * 2);
  } while (AllZero(hex));
  return hex;
}

}  // namespace

std::optional<Traceparent> ParseTraceparent(absl::string_view value) {
  if (value.size() < kVersion00Length) return std::nullopt;
  if (value[2] != '-' || value[35] != '-' || value[52] != '-') return std::nullopt;
  const absl::string_view version = value.substr(0, 2);
  const absl::string_view trace_id = value.substr(3, 32);
  const absl::string_view parent_id = value.substr(36, 16);
  const absl::string_view flags = value.substr(53, 2);
  if (!AllLowerHex(version) || version == "ff") return std::nullopt;
  const uint8_t number = HexByte(version);
  // Version 00 is exactly 55 characters; a later one may append fields, each
  // after a '-'.
  if (number == 0 && value.size() != kVersion00Length) return std::nullopt;
  if (value.size() > kVersion00Length && value[kVersion00Length] != '-') return std::nullopt;
  if (!AllLowerHex(trace_id) || AllZero(trace_id)) return std::nullopt;
  if (!AllLowerHex(parent_id) || AllZero(parent_id)) return std::nullopt;
  if (!AllLowerHex(flags)) return std::nullopt;
  return Traceparent{number, std::string(trace_id), std::string(parent_id), HexByte(flags)};
}

TraceContext TraceContext::Fresh() {
  TraceContext trace;
  trace.trace_id = RandomHex(16);
  trace.span_id = RandomHex(8);
  return trace;
}

TraceContext TraceContext::Continue(absl::string_view traceparent, absl::string_view tracestate) {
  std::optional<hive::Traceparent> parsed = ParseTraceparent(traceparent);
  if (!parsed.has_value()) {
    TraceContext fresh = Fresh();
    fresh.invalid_header = !traceparent.empty();
    return fresh;
  }
  TraceContext trace;
  trace.trace_id = std::move(parsed->trace_id);
  trace.parent_id = std::move(parsed->parent_id);
  trace.span_id = RandomHex(8);
  trace.flags = parsed->version == 0 ? parsed->flags : static_cast<uint8_t>(parsed->flags & 0x01);
  if (tracestate.size() <= kMaxTracestateBytes && PrintableAscii(tracestate)) {
    trace.tracestate = std::string(tracestate);
  } else {
    trace.tracestate_dropped = true;
  }
  return trace;
}

std::string TraceContext::Traceparent() const { return absl::StrFormat("00-%s-%s-%02x", trace_id, span_id, flags); }

}  // namespace hive

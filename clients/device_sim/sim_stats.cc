#include "clients/device_sim/sim_stats.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/codec/json_writer.h"

namespace hive::sim {

void SimStats::RecordClose(int code) {
  absl::MutexLock lock(&mutex_);
  ++closes_[code];
}

SimStats::Snapshot SimStats::Read() const {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  Snapshot snapshot;
  snapshot.connected = connected.load(kRelaxed);
  snapshot.authenticated = authenticated.load(kRelaxed);
  snapshot.authenticated_devices = authenticated_devices.load(kRelaxed);
  snapshot.events_sent = events_sent.load(kRelaxed);
  snapshot.requests_received = requests_received.load(kRelaxed);
  snapshot.acks_sent = acks_sent.load(kRelaxed);
  snapshot.results_sent = results_sent.load(kRelaxed);
  snapshot.bridge_errors = bridge_errors.load(kRelaxed);
  snapshot.connect_failures = connect_failures.load(kRelaxed);
  snapshot.reconnects = reconnects.load(kRelaxed);
  snapshot.requests = ledger.Read();
  absl::MutexLock lock(&mutex_);
  snapshot.closes = closes_;
  return snapshot;
}

std::string SimStats::Snapshot::ProgressLine(size_t devices) const {
  std::string line = absl::StrCat("connected ", connected, "/", devices, "  authenticated ", authenticated, "  events ",
                                  events_sent, "  requests ", requests_received, "  acked ", acks_sent, "  results ",
                                  results_sent, "  reconnects ", reconnects, "  closes");
  if (closes.empty()) absl::StrAppend(&line, " none");
  for (const auto& [code, count] : closes) absl::StrAppend(&line, " ", code, "×", count);
  return line;
}

std::string SimStats::Snapshot::ToJson(size_t devices, absl::Duration elapsed) const {
  codec::JsonText json;
  codec::JsonWriter& writer = json.writer();
  const auto count = [&writer](absl::string_view key, int64_t value) {
    codec::WriteKey(writer, key);
    writer.Int64(value);
  };
  writer.StartObject();
  count("devices", static_cast<int64_t>(devices));
  count("connected", connected);
  count("authenticated", authenticated);
  count("authenticated_devices", authenticated_devices);
  count("events_sent", events_sent);
  count("requests_received", requests_received);
  count("duplicate_requests", requests.duplicates);
  count("busiest_second_requests", requests.busiest_second);
  count("busiest_5s_requests", requests.busiest_five_seconds);
  count("request_span_ms", absl::ToInt64Milliseconds(requests.span));
  count("acks_sent", acks_sent);
  count("results_sent", results_sent);
  count("bridge_errors", bridge_errors);
  count("connect_failures", connect_failures);
  count("reconnects", reconnects);
  codec::WriteKey(writer, "closes");
  writer.StartObject();
  for (const auto& [code, n] : closes) count(absl::StrCat(code), n);
  writer.EndObject();
  codec::WriteKey(writer, "elapsed_s");
  codec::WriteNumber(writer, absl::ToDoubleSeconds(absl::Trunc(elapsed, absl::Milliseconds(1))));
  writer.EndObject();
  return std::move(json).Take();
}

}  // namespace hive::sim

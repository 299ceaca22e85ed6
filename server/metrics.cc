#include "server/metrics.h"

#include "absl/strings/str_cat.h"
#include "bridge/codec/schema_error_counts.h"
#include "prometheus/text_serializer.h"
#include "server/request_labels.h"

namespace hive::server {
namespace {

void AppendHeader(std::string& out, absl::string_view name, absl::string_view type, absl::string_view help) {
  absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

void AppendMetric(std::string& out, absl::string_view name, absl::string_view type, absl::string_view help,
                  uint64_t value) {
  AppendHeader(out, name, type, help);
  absl::StrAppend(&out, name, " ", value, "\n");
}

void AppendDeviceCounters(std::string& out, const DeviceCounters& devices) {
  AppendHeader(out, "hivebridge_device_connections", "gauge",
               "Authenticated device connections on this replica, by WebSocket subprotocol.");
  for (codec::Dialect dialect : {codec::Dialect::kStandard, codec::Dialect::kCompact}) {
    absl::StrAppend(&out, "hivebridge_device_connections{protocol=\"", codec::SubprotocolOf(dialect), "\"} ",
                    devices.connected(dialect), "\n");
  }
  AppendHeader(out, "hivebridge_device_closes_total", "counter",
               "Device connections that ended, by close code and by who closed first (bridge, device, or neither: "
               "the connection dropped); a code appears with its first close.");
  for (size_t i = 0; i <= DeviceCounters::kCloseCodes.size(); ++i) {
    const std::string code =
        i < DeviceCounters::kCloseCodes.size() ? absl::StrCat(DeviceCounters::kCloseCodes[i]) : std::string("other");
    for (ClosedBy by : {ClosedBy::kBridge, ClosedBy::kDevice, ClosedBy::kNeither}) {
      if (const uint64_t closes = devices.closes(i, by); closes > 0) {
        absl::StrAppend(&out, "hivebridge_device_closes_total{closed_by=\"", ClosedByName(by), "\",code=\"", code,
                        "\"} ", closes, "\n");
      }
    }
  }
  AppendHeader(out, "hivebridge_device_auth_failures_total", "counter",
               "Device authentications refused, by reason (docs/metrics.md lists them).");
  for (size_t i = 0; i < kAuthFailureNames.size(); ++i) {
    absl::StrAppend(&out, "hivebridge_device_auth_failures_total{reason=\"", kAuthFailureNames[i], "\"} ",
                    devices.auth_failures(static_cast<AuthFailure>(i)), "\n");
  }
  AppendHeader(out, "hivebridge_device_frames_total", "counter", "WebSocket text frames from and to devices.");
  absl::StrAppend(&out, "hivebridge_device_frames_total{direction=\"in\"} ", devices.frames_in(), "\n",
                  "hivebridge_device_frames_total{direction=\"out\"} ", devices.frames_out(), "\n");
  AppendHeader(out, "hivebridge_device_bytes_total", "counter",
               "Bytes of the WebSocket text frames from and to devices (payloads, without framing).");
  absl::StrAppend(&out, "hivebridge_device_bytes_total{direction=\"in\"} ", devices.bytes_in(), "\n",
                  "hivebridge_device_bytes_total{direction=\"out\"} ", devices.bytes_out(), "\n");
  AppendHeader(out, "hivebridge_device_events_total", "counter",
               "Events this replica's devices published, the bridge's own included, by type (other types: "
               "\"other\").");
  for (size_t i = 0; i < DeviceCounters::kEventTypes.size(); ++i) {
    absl::StrAppend(&out, "hivebridge_device_events_total{type=\"", DeviceCounters::kEventTypes[i], "\"} ",
                    devices.events(i), "\n");
  }
}

}  // namespace

std::string RenderMetrics(const MetricsSources& sources) {
  std::string out;
  absl::StrAppend(&out, "# HELP hivebridge_build_info The running version.\n# TYPE hivebridge_build_info gauge\n",
                  "hivebridge_build_info{version=\"", HIVEBRIDGE_VERSION, "\"} 1\n");
  AppendMetric(out, "hivebridge_devices_connected", "gauge", "Authenticated devices connected to this replica.",
               sources.registry.size());
  AppendMetric(out, "hivebridge_websocket_connections", "gauge", "Open WebSocket connections, authenticated or not.",
               sources.endpoint == nullptr ? 0 : sources.endpoint->connection_count());
  AppendMetric(out, "hivebridge_accept_errors_total", "counter",
               "Device connections the listener failed to accept (out of file descriptors, mostly).",
               sources.endpoint == nullptr ? 0 : sources.endpoint->accept_errors());
  AppendMetric(out, "hivebridge_event_subscribers", "gauge", "Open SubscribeEvents and WatchDevices streams.",
               sources.hub.subscriber_count());
  AppendMetric(out, "hivebridge_requests_pending", "gauge", "Device requests awaiting an ack or result.",
               sources.correlator.pending());
  AppendMetric(out, "hivebridge_connect_waiters", "gauge",
               "SendDeviceRequest calls waiting for their device to connect (connect_timeout).",
               sources.registry.waiter_count() + (sources.fleet == nullptr ? 0 : sources.fleet->waiter_count()));
  const RequestCorrelator::Memory remembered = sources.correlator.remembered();
  AppendMetric(out, "hivebridge_requests_remembered", "gauge",
               "Request outcomes remembered so that retries are not sent twice (--max-remembered-requests).",
               remembered.entries);
  AppendMetric(out, "hivebridge_requests_remembered_bytes", "gauge",
               "Estimated bytes of the remembered request outcomes (--max-remembered-bytes).", remembered.bytes);
  absl::StrAppend(&out,
                  "# HELP hivebridge_requests_forgotten_total Remembered request outcomes forgotten: over the "
                  "--max-remembered-* budget, or idle for the --dedupe-window.\n"
                  "# TYPE hivebridge_requests_forgotten_total counter\n",
                  "hivebridge_requests_forgotten_total{reason=\"budget\"} ", remembered.forgotten_budget, "\n",
                  "hivebridge_requests_forgotten_total{reason=\"window\"} ", remembered.forgotten_window, "\n");
  AppendMetric(out, "hivebridge_request_retries_joined_total", "counter",
               "SendDeviceRequest calls whose request_id was in flight or remembered: answered from it, not sent "
               "again (dedupe hits).",
               remembered.retries_joined);
  const TwinStore::Stats twins = sources.twins.stats();
  AppendMetric(out, "hivebridge_twins", "gauge", "Device twins remembered (--max-twins).", twins.twins);
  AppendMetric(out, "hivebridge_twin_bytes", "gauge",
               "Bytes of the device twins: their kept events' sizes plus 512 each (--max-twin-bytes).", twins.bytes);
  absl::StrAppend(&out,
                  "# HELP hivebridge_twins_forgotten_total Twins of long-offline devices forgotten to stay within "
                  "--max-twins or --max-twin-bytes.\n"
                  "# TYPE hivebridge_twins_forgotten_total counter\n",
                  "hivebridge_twins_forgotten_total{reason=\"max-twins\"} ", twins.forgotten_max_twins, "\n",
                  "hivebridge_twins_forgotten_total{reason=\"max-twin-bytes\"} ", twins.forgotten_max_bytes, "\n");
  AppendMetric(out, "hivebridge_twin_persisted_sequence", "gauge",
               "The event sequence every twin in the --state-dir includes (0 without it).",
               sources.persister == nullptr ? 0 : sources.persister->persisted_sequence());
  AppendMetric(out, "hivebridge_twin_write_errors_total", "counter",
               "Flushes of the twins to the --state-dir that failed (retried at the next flush).",
               sources.persister == nullptr ? 0 : sources.persister->write_errors());
  const BusCounters bus = sources.bus.counters();
  AppendMetric(out, "hivebridge_events_published_total", "counter", "Events published by this replica's devices.",
               bus.published);
  AppendMetric(out, "hivebridge_events_dropped_total", "counter",
               "Events the bus could not carry (its buffer was full while the broker was away).", bus.dropped);
  AppendMetric(out, "hivebridge_events_delivered_total", "counter",
               "Events the bus delivered to this replica's subscribers' hub.", bus.delivered);
  if (sources.ready) {
    AppendMetric(out, "hivebridge_ready", "gauge",
                 "1 while /readyz answers 200: serving, bus connected and the queue caught up.",
                 sources.ready() ? 1 : 0);
  }
  AppendHeader(out, "hivebridge_cluster_messages_rejected_total", "counter",
               "Messages from the broker refused for their signature (--cluster-key-file), by kind and reason; "
               "never acted on.");
  for (size_t kind = 0; kind < kClusterMessageKindCount; ++kind) {
    for (size_t reason = 0; reason < kSignatureRejectionCount; ++reason) {
      absl::StrAppend(&out, "hivebridge_cluster_messages_rejected_total{kind=\"",
                      ClusterMessageKindName(static_cast<ClusterMessageKind>(kind)), "\",reason=\"",
                      SignatureRejectionName(static_cast<SignatureRejection>(reason)), "\"} ",
                      bus.rejected[kind][reason], "\n");
    }
  }
  AppendMetric(out, "hivebridge_bus_writes_cut_total", "counter",
               "Writes to the message broker stuck for 5 s and cut by shutting their connection down (it is made "
               "again); the broker stopped reading this replica.",
               bus.writes_cut);
  AppendMetric(out, "hivebridge_bus_connected", "gauge",
               "1 while the bus carries events (cluster mode: broker connected).", sources.bus.connected() ? 1 : 0);
  AppendHeader(out, "hivebridge_broker_state", "gauge",
               "1 for the message broker's state as this replica sees it (cluster mode; connected otherwise): "
               "connected, blocked (a resource alarm), silent (not even heartbeats) or disconnected.");
  const BrokerState broker = sources.bus.broker_state();
  for (int i = 0; i < kBrokerStateCount; ++i) {
    const auto state = static_cast<BrokerState>(i);
    absl::StrAppend(&out, "hivebridge_broker_state{state=\"", BrokerStateName(state), "\"} ", state == broker ? 1 : 0,
                    "\n");
  }
  if (sources.queue != nullptr) {
    const RequestQueue::Stats queue = sources.queue->stats();
    AppendMetric(out, "hivebridge_queued_requests", "gauge",
                 "Queued requests (queue_ttl) awaiting delivery to their device.", queue.queued);
    AppendMetric(out, "hivebridge_queued_request_bytes", "gauge",
                 "Bytes of the queued requests awaiting delivery (serialized size; --max-queued-bytes).",
                 queue.queued_bytes);
    absl::StrAppend(&out,
                    "# HELP hivebridge_queued_requests_ended_total Queued requests that ended, by the status they "
                    "ended with.\n# TYPE hivebridge_queued_requests_ended_total counter\n");
    for (const auto& [status, count] : queue.ended) {
      absl::StrAppend(&out, "hivebridge_queued_requests_ended_total{status=\"", RequestStatusName(status), "\"} ",
                      count, "\n");
    }
  }
  absl::StrAppend(&out,
                  "# HELP hivebridge_limit_refusals_total What each limit refused or cut off, by the flag that sets "
                  "it (docs/SECURITY.md).\n# TYPE hivebridge_limit_refusals_total counter\n");
  for (size_t i = 0; i < kLimitCount; ++i) {
    const auto limit = static_cast<Limit>(i);
    absl::StrAppend(&out, "hivebridge_limit_refusals_total{limit=\"", LimitName(limit), "\"} ",
                    sources.limits.value(limit), "\n");
  }
  absl::StrAppend(&out,
                  "# HELP hivebridge_device_event_schema_errors_total Device events whose fields did not fit their "
                  "type's schema, relayed with the generic body and schema_error (docs/protocol.md section 4).\n"
                  "# TYPE hivebridge_device_event_schema_errors_total counter\n");
  const codec::SchemaErrorCounts& schema_errors = codec::SchemaErrorCounts::OfProcess();
  for (absl::string_view label : codec::SchemaErrorCounts::kLabels) {
    absl::StrAppend(&out, "hivebridge_device_event_schema_errors_total{type=\"", label, "\"} ",
                    schema_errors.value(label), "\n");
  }
  if (sources.devices != nullptr) AppendDeviceCounters(out, *sources.devices);
  std::vector<prometheus::MetricFamily> families;
  for (const prometheus::Collectable* collectable : sources.families) {
    std::vector<prometheus::MetricFamily> collected = collectable->Collect();
    families.insert(families.end(), std::make_move_iterator(collected.begin()),
                    std::make_move_iterator(collected.end()));
  }
  absl::StrAppend(&out, prometheus::TextSerializer().Serialize(families));
  return out;
}

}  // namespace hive::server

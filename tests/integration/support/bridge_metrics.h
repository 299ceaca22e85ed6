// tests/integration/support/bridge_metrics.h
// One value of the bridge's /metrics, read over a fresh HTTP connection to
// its WebSocket port:
//
//   uint64_t refused = MetricValue(bridge, "hivebridge_limit_refusals_total{limit=\"max-connections\"}");
//
// A series the page lacks, or no answer, aborts the test (AbortTest).
#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tests/integration/support/bridge_process.h"

namespace hive::integration {

uint64_t MetricValue(const BridgeProcess& bridge, absl::string_view series);

// The series' value once it reaches `at_least`, or its last value when
// `timeout` passes first: for counts the bridge makes a moment after the
// client has seen their effect (a connection is counted as it is cleaned up).
uint64_t AwaitMetricValue(const BridgeProcess& bridge, absl::string_view series, uint64_t at_least,
                          absl::Duration timeout);

}  // namespace hive::integration

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
#include "tests/integration/support/bridge_process.h"

namespace hive::integration {

uint64_t MetricValue(const BridgeProcess& bridge, absl::string_view series);

}  // namespace hive::integration

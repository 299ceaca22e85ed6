#include "tests/integration/support/bridge_metrics.h"

#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/raw_connection.h"
#include "tests/integration/support/sanitizer_slowdown.h"

namespace hive::integration {

uint64_t MetricValue(const BridgeProcess& bridge, absl::string_view series) {
  absl::StatusOr<RawConnection> http = RawConnection::Open(bridge.ws_port());
  if (!http.ok()) AbortTest(http.status().ToString());
  // A hang bound: a bridge just flooded, or slowed by a sanitizer, may take
  // seconds to answer.
  std::optional<RawConnection::HttpResponse> response =
      http->HttpGet("/metrics", absl::Seconds(10 * kSanitizerSlowdown));
  if (!response.has_value()) AbortTest("no /metrics response");
  const std::string line_start = absl::StrCat("\n", series, " ");
  const size_t at = response->body.find(line_start);
  if (at == std::string::npos) AbortTest(absl::StrCat("/metrics has no ", series, "\n", response->body));
  const size_t start = at + line_start.size();
  uint64_t value = 0;
  if (!absl::SimpleAtoi(response->body.substr(start, response->body.find('\n', start) - start), &value)) {
    AbortTest(absl::StrCat("unreadable ", series));
  }
  return value;
}

uint64_t AwaitMetricValue(const BridgeProcess& bridge, absl::string_view series, uint64_t at_least,
                          absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  uint64_t value = MetricValue(bridge, series);
  while (value < at_least && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    value = MetricValue(bridge, series);
  }
  return value;
}

}  // namespace hive::integration

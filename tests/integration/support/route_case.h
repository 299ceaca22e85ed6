// tests/integration/support/route_case.h
// One row of an HTTP route table on the device port: what a GET of `path`
// answers, over plain HTTP (http_test.cc) or over TLS (wss_test.cc).
#pragma once

#include <string>
#include <vector>

namespace hive::integration {

struct RouteCase {
  std::string name;
  std::string path;
  int status;
  std::string body;  // a part of it
};

// The health and metrics routes, which both listeners serve alike.
inline std::vector<RouteCase> ObservabilityRoutes() {
  return {RouteCase{"Healthz", "/healthz", 200, "ok"}, RouteCase{"Readyz", "/readyz", 200, "ready"},
          RouteCase{"Metrics", "/metrics", 200, "# TYPE hivebridge_"}};
}

}  // namespace hive::integration

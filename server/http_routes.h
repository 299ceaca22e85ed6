// server/http_routes.h
// Plain HTTP answers on the WebSocket port: /healthz, /readyz, /metrics.
#pragma once

#include <functional>
#include <string>

#include "absl/strings/string_view.h"

namespace hive::server {

struct HttpResponse {
  int status = 404;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body = "not found\n";
};

// Answers a GET for `path`; runs on a WebSocket I/O thread, so it must not block.
using HttpRoutes = std::function<HttpResponse(absl::string_view path)>;

}  // namespace hive::server

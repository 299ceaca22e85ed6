// server/http_api_routes.h
// The HTTP/JSON gateway's routing table (docs/protocol.md#http-json-gateway):
// which DeviceBridge (or FleetJobs) RPC an HTTP method and /api/v1 path name, and the id the
// path carries. Pure, so unit tests cover every path without a server.
//
//   absl::StatusOr<ApiRoute> route = ResolveApiRoute("POST", "/api/v1/devices/D/requests");
//   // route->rpc == ApiRpc::kSendDeviceRequest, route->id == "D"
//
// An unknown path is NOT_FOUND; a known path with the wrong method is
// UNIMPLEMENTED, which the gateway answers 405 (as grpc-gateway's routing
// error handler does).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hive::server {

enum class ApiRpc {
  kSendDeviceRequest,  // POST /api/v1/devices/{device_id}/requests
  kListDevices,        // GET  /api/v1/devices
  kGetDevice,          // GET  /api/v1/devices/{device_id}
  kWatchDevices,       // GET  /api/v1/devices:watch (Server-Sent Events)
  kGetRequest,         // GET  /api/v1/requests/{request_id}
  kCancelRequest,      // POST /api/v1/requests/{request_id}/cancel
  kSubscribeEvents,    // GET  /api/v1/events (Server-Sent Events)
  kHealth,             // GET  /api/v1/health (grpc.health.v1.Health/Check)
  kStartJob,           // POST /api/v1/jobs (FleetJobs)
  kListJobs,           // GET  /api/v1/jobs
  kGetJob,             // GET  /api/v1/jobs/{job_id}
  kCancelJob,          // POST /api/v1/jobs/{job_id}/cancel
  kWatchJob,           // GET  /api/v1/jobs/{job_id}:watch (Server-Sent Events)
};

struct ApiRoute {
  ApiRpc rpc;
  // The {device_id}, {request_id} or {job_id} of the path; empty when it has none.
  std::string id;
  // The method the path takes, for the Allow header of a 405.
  const char* method;
};

// The prefix every gateway path starts with.
inline constexpr absl::string_view kApiPrefix = "/api/v1/";

// `path` is the decoded path without the query.
absl::StatusOr<ApiRoute> ResolveApiRoute(absl::string_view method, absl::string_view path);

}  // namespace hive::server

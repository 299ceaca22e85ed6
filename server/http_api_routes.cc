#include "server/http_api_routes.h"

#include <optional>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace hive::server {
namespace {

// The route of `segments` (the path after /api/v1/, split at '/') whatever
// the method, or nullopt.
std::optional<ApiRoute> Match(absl::string_view method, const std::vector<absl::string_view>& segments) {
  const size_t n = segments.size();
  // An empty id segment ("/api/v1/devices//requests") matches nothing.
  for (absl::string_view segment : segments) {
    if (segment.empty()) return std::nullopt;
  }
  if (n == 1 && segments[0] == "devices") return ApiRoute{ApiRpc::kListDevices, "", "GET"};
  if (n == 1 && segments[0] == "devices:watch") return ApiRoute{ApiRpc::kWatchDevices, "", "GET"};
  if (n == 1 && segments[0] == "events") return ApiRoute{ApiRpc::kSubscribeEvents, "", "GET"};
  if (n == 1 && segments[0] == "health") return ApiRoute{ApiRpc::kHealth, "", "GET"};
  // One path, two methods: POST starts a job, GET lists them.
  if (n == 1 && segments[0] == "jobs") {
    return method == "POST" ? ApiRoute{ApiRpc::kStartJob, "", "POST"} : ApiRoute{ApiRpc::kListJobs, "", "GET"};
  }
  if (n == 2 && segments[0] == "jobs") {
    absl::string_view id = segments[1];
    if (absl::ConsumeSuffix(&id, ":watch")) {
      if (id.empty()) return std::nullopt;
      return ApiRoute{ApiRpc::kWatchJob, std::string(id), "GET"};
    }
    return ApiRoute{ApiRpc::kGetJob, std::string(id), "GET"};
  }
  if (n == 3 && segments[0] == "jobs" && segments[2] == "cancel") {
    return ApiRoute{ApiRpc::kCancelJob, std::string(segments[1]), "POST"};
  }
  if (n == 2 && segments[0] == "devices") return ApiRoute{ApiRpc::kGetDevice, std::string(segments[1]), "GET"};
  if (n == 3 && segments[0] == "devices" && segments[2] == "requests") {
    return ApiRoute{ApiRpc::kSendDeviceRequest, std::string(segments[1]), "POST"};
  }
  if (n == 2 && segments[0] == "requests") return ApiRoute{ApiRpc::kGetRequest, std::string(segments[1]), "GET"};
  if (n == 3 && segments[0] == "requests" && segments[2] == "cancel") {
    return ApiRoute{ApiRpc::kCancelRequest, std::string(segments[1]), "POST"};
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<ApiRoute> ResolveApiRoute(absl::string_view method, absl::string_view path) {
  if (!absl::ConsumePrefix(&path, kApiPrefix)) {
    return absl::NotFoundError(absl::StrCat("no such path: ", path, " (the API is under ", kApiPrefix, ")"));
  }
  std::optional<ApiRoute> route = Match(method, absl::StrSplit(path, '/'));
  if (!route.has_value()) return absl::NotFoundError(absl::StrCat("no such path: ", kApiPrefix, path));
  // HEAD is not served: a GET here may be a stream.
  if (method != route->method) {
    return absl::UnimplementedError(
        absl::StrCat("method ", method, " not allowed on ", kApiPrefix, path, "; use ", route->method));
  }
  return *std::move(route);
}

}  // namespace hive::server

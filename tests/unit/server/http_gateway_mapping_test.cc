// The HTTP/JSON gateway's pure parts: grpc-gateway's status mapping, the
// error body, the routing table, query parameters onto request messages,
// event ids as resume points, and the Server-Sent Events framing.
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hive/bridge/v1/device_bridge.pb.h"
#include "server/grpc_http_status.h"
#include "server/http_api_routes.h"
#include "server/http_query_params.h"
#include "server/sse_stream.h"

namespace hive::server {
namespace {

using hive::bridge::v1::ListDevicesRequest;
using hive::bridge::v1::SubscribeEventsRequest;
using hive::bridge::v1::WatchDevicesRequest;

TEST(GrpcHttpStatus, MapsEveryCodeAsGrpcGatewaysHttpStatusFromCode) {
  const std::pair<grpc::StatusCode, int> table[] = {
      {grpc::StatusCode::OK, 200},
      {grpc::StatusCode::CANCELLED, 499},
      {grpc::StatusCode::UNKNOWN, 500},
      {grpc::StatusCode::INVALID_ARGUMENT, 400},
      {grpc::StatusCode::DEADLINE_EXCEEDED, 504},
      {grpc::StatusCode::NOT_FOUND, 404},
      {grpc::StatusCode::ALREADY_EXISTS, 409},
      {grpc::StatusCode::PERMISSION_DENIED, 403},
      {grpc::StatusCode::UNAUTHENTICATED, 401},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, 429},
      {grpc::StatusCode::FAILED_PRECONDITION, 400},
      {grpc::StatusCode::ABORTED, 409},
      {grpc::StatusCode::OUT_OF_RANGE, 400},
      {grpc::StatusCode::UNIMPLEMENTED, 501},
      {grpc::StatusCode::INTERNAL, 500},
      {grpc::StatusCode::UNAVAILABLE, 503},
      {grpc::StatusCode::DATA_LOSS, 500},
  };
  for (const auto& [code, http] : table) EXPECT_EQ(HttpStatusFromGrpcCode(code), http) << code;
  EXPECT_EQ(HttpStatusFromGrpcCode(static_cast<grpc::StatusCode>(99)), 500);
}

TEST(GrpcHttpStatus, ErrorBodyIsCodeMessageDetailsWithTheMessageEscaped) {
  EXPECT_EQ(ErrorBody(grpc::StatusCode::NOT_FOUND, "device \"x\" not connected\n"),
            R"({"code":5,"message":"device \"x\" not connected\n","details":[]})");
}

TEST(HttpApiRoutes, EveryPathNamesItsRpcAndId) {
  struct Case {
    const char* method;
    const char* path;
    ApiRpc rpc;
    const char* id;
  };
  for (const Case& c : {
           Case{"POST", "/api/v1/devices/D/requests", ApiRpc::kSendDeviceRequest, "D"},
           Case{"GET", "/api/v1/devices", ApiRpc::kListDevices, ""},
           Case{"GET", "/api/v1/devices/D", ApiRpc::kGetDevice, "D"},
           Case{"GET", "/api/v1/devices:watch", ApiRpc::kWatchDevices, ""},
           Case{"GET", "/api/v1/requests/R", ApiRpc::kGetRequest, "R"},
           Case{"POST", "/api/v1/requests/R/cancel", ApiRpc::kCancelRequest, "R"},
           Case{"GET", "/api/v1/events", ApiRpc::kSubscribeEvents, ""},
           Case{"GET", "/api/v1/health", ApiRpc::kHealth, ""},
           Case{"POST", "/api/v1/jobs", ApiRpc::kStartJob, ""},
           Case{"GET", "/api/v1/jobs", ApiRpc::kListJobs, ""},
           Case{"GET", "/api/v1/jobs/J", ApiRpc::kGetJob, "J"},
           Case{"POST", "/api/v1/jobs/J/cancel", ApiRpc::kCancelJob, "J"},
           Case{"GET", "/api/v1/jobs/J:watch", ApiRpc::kWatchJob, "J"},
       }) {
    absl::StatusOr<ApiRoute> route = ResolveApiRoute(c.method, c.path);
    ASSERT_TRUE(route.ok()) << c.path << ": " << route.status();
    EXPECT_EQ(route->rpc, c.rpc) << c.path;
    EXPECT_EQ(route->id, c.id) << c.path;
  }
}

TEST(HttpApiRoutes, UnknownPathsAreNotFoundAndOtherMethodsUnimplemented) {
  for (const char* path : {"/", "/api/v1/", "/api/v2/devices", "/api/v1/devices/", "/api/v1/devices//requests",
                           "/api/v1/devices/D/requests/x", "/api/v1/requests", "/api/v1/events/x",
                           "/api/v1/jobs/:watch", "/api/v1/jobs/J/x"}) {
    EXPECT_EQ(ResolveApiRoute("GET", path).status().code(), absl::StatusCode::kNotFound) << path;
  }
  EXPECT_EQ(ResolveApiRoute("GET", "/api/v1/nothing").status(), absl::NotFoundError("no such path: /api/v1/nothing"));
  EXPECT_EQ(ResolveApiRoute("DELETE", "/api/v1/devices/D").status(),
            absl::UnimplementedError("method DELETE not allowed on /api/v1/devices/D; use GET"));
  EXPECT_EQ(ResolveApiRoute("GET", "/api/v1/devices/D/requests").status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(ResolveApiRoute("HEAD", "/api/v1/events").status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(ResolveApiRoute("DELETE", "/api/v1/jobs").status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(ResolveApiRoute("POST", "/api/v1/jobs/J:watch").status().code(), absl::StatusCode::kUnimplemented);
}

TEST(HttpQueryParams, SetsFieldsByProtoOrJsonNameWithTheirTypes) {
  ListDevicesRequest list;
  ASSERT_TRUE(SetQueryParameter(list, "account_id", "A").ok());
  ASSERT_TRUE(SetQueryParameter(list, "pageSize", "7").ok());
  ASSERT_TRUE(SetQueryParameter(list, "presence", "PRESENCE_ALL").ok());
  EXPECT_EQ(list.account_id(), "A");
  EXPECT_EQ(list.page_size(), 7);
  EXPECT_EQ(list.presence(), hive::bridge::v1::PRESENCE_ALL);
  ASSERT_TRUE(SetQueryParameter(list, "presence", "2").ok());
  EXPECT_EQ(list.presence(), hive::bridge::v1::PRESENCE_OFFLINE);

  SubscribeEventsRequest events;
  ASSERT_TRUE(SetQueryParameter(events, "types", "a").ok());
  ASSERT_TRUE(SetQueryParameter(events, "types", "b").ok());
  ASSERT_TRUE(SetQueryParameter(events, "deviceIds", "D").ok());
  ASSERT_TRUE(SetQueryParameter(events, "resume_after.epoch", "E").ok());
  ASSERT_TRUE(SetQueryParameter(events, "resumeAfter.sequence", "42").ok());
  EXPECT_THAT(events.types(), ::testing::ElementsAre("a", "b"));
  EXPECT_THAT(events.device_ids(), ::testing::ElementsAre("D"));
  EXPECT_EQ(events.resume_after().epoch(), "E");
  EXPECT_EQ(events.resume_after().sequence(), 42u);

  WatchDevicesRequest watch;
  ASSERT_TRUE(SetQueryParameter(watch, "alive", "true").ok());
  EXPECT_TRUE(watch.alive());
}

TEST(HttpQueryParams, RefusesWhatDoesNotFitNamingTheParameter) {
  ListDevicesRequest list;
  EXPECT_EQ(SetQueryParameter(list, "color", "red"),
            absl::InvalidArgumentError(
                R"(unknown query parameter "color"; hive.bridge.v1.ListDevicesRequest has no field "color")"));
  EXPECT_EQ(SetQueryParameter(list, "page_size", "many"),
            absl::InvalidArgumentError(R"(query parameter "page_size": expected a 32-bit integer, got "many")"));
  EXPECT_EQ(SetQueryParameter(list, "page_size", "99999999999"),
            absl::InvalidArgumentError(R"(query parameter "page_size": expected a 32-bit integer, got "99999999999")"));
  EXPECT_EQ(SetQueryParameter(list, "presence", "SOMETIMES"),
            absl::InvalidArgumentError(R"(query parameter "presence": expected one of PRESENCE_UNSPECIFIED, )"
                                       R"(PRESENCE_ONLINE, PRESENCE_OFFLINE, PRESENCE_ALL, got "SOMETIMES")"));
  EXPECT_EQ(SetQueryParameter(list, "account_id.x", "1"),
            absl::InvalidArgumentError(R"(unknown query parameter "account_id.x": account_id has no fields)"));
  WatchDevicesRequest watch;
  EXPECT_EQ(SetQueryParameter(watch, "alive", "yes"),
            absl::InvalidArgumentError(R"(query parameter "alive": expected true or false, got "yes")"));
  SubscribeEventsRequest events;
  EXPECT_EQ(SetQueryParameter(events, "resume_after", "E:1"),
            absl::InvalidArgumentError(
                R"(query parameter "resume_after": resume_after is a message; set its fields (resume_after.FIELD))"));
}

TEST(HttpQueryParams, AnEventIdIsAResumePoint) {
  absl::StatusOr<hive::bridge::v1::StreamPosition> position =
      ParseStreamPosition("amqp-stream:v/s:17", "Last-Event-ID");
  ASSERT_TRUE(position.ok()) << position.status();
  EXPECT_EQ(position->epoch(), "amqp-stream:v/s");
  EXPECT_EQ(position->sequence(), 17u);
  for (const char* bad : {"", "17", ":17", "e:", "e:x", "e:-1"}) {
    EXPECT_EQ(ParseStreamPosition(bad, "Last-Event-ID").status(),
              absl::InvalidArgumentError(
                  absl::StrCat("Last-Event-ID: expected <epoch>:<sequence> as in an event's id, got \"", bad, "\"")))
        << bad;
  }
}

TEST(SseStream, FramesAnEventWithEachDataLineOnItsOwn) {
  EXPECT_EQ(SseEvent("e:1", "device-state", R"({"a":1})"), "id: e:1\nevent: device-state\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(SseEvent("", "error", "x\ny"), "event: error\ndata: x\ndata: y\n\n");
  EXPECT_EQ(kSseHeartbeat, ": heartbeat\n\n");
}

}  // namespace
}  // namespace hive::server

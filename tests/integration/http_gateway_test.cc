// The HTTP/JSON gateway (--http-listen, docs/protocol.md#http-json-gateway):
// every endpoint with good and bad input against a real bridge and real
// devices, with cpp-httplib's client; the backend policy's refusals; the
// event stream as Server-Sent Events and its resume with Last-Event-ID; and
// the flag's rules (off by default, no gateway without a policy unless told).
#include <httplib.h>

#include <filesystem>

#include <deque>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "bridge/uuid.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "hive/bridge/v1/jobs.pb.h"
#include "tests/integration/support/bridge_process.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/grpc_calls.h"
#include "tests/integration/support/test_certificates.h"
#include "tests/integration/support/test_device.h"
#include "tests/integration/support/wait_until.h"

namespace hive::integration {
namespace {

using hive::bridge::v1::DeviceEvent;
using hive::bridge::v1::GetDeviceResponse;
using hive::bridge::v1::GetRequestResponse;
using hive::bridge::v1::ListDevicesResponse;
using hive::bridge::v1::WatchDevicesResponse;
using ::testing::HasSubstr;

constexpr char kOpsToken[] = "ops-token-0123456789abcdef";
constexpr char kBillingToken[] = "billing-token-0123456789";

std::string WriteTemp(const std::string& name, const std::string& contents) {
  std::string path = ::testing::TempDir() + "/" + name + "-" + NewUuid();
  std::ofstream(path) << contents;
  return path;
}

httplib::Headers Bearer(const std::string& token) {
  if (token.empty()) return {};
  return {{"Authorization", absl::StrCat("Bearer ", token)}};
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(message, &json).ok());
  return json;
}

template <typename Message>
Message FromJson(const std::string& json) {
  Message message;
  const auto parsed = google::protobuf::util::JsonStringToMessage(json, &message);
  EXPECT_TRUE(parsed.ok()) << parsed << " in " << json;
  return message;
}

// The gateway's error body, exactly.
std::string ErrorJson(int code, absl::string_view message) {
  return absl::StrCat(R"({"code":)", code, R"(,"message":")", message, R"(","details":[]})");
}

// One Server-Sent Event.
struct SseEvent {
  std::string id;
  std::string event;
  std::string data;
};

// A GET of an event stream, read by a thread of its own: the status once the
// headers came, then each event as it arrives (comments skipped).
class SseReader {
 public:
  SseReader(int port, std::string path, httplib::Headers headers) : client_("127.0.0.1", port) {
    client_.set_read_timeout(std::chrono::seconds(60));
    reader_ = std::thread([this, path = std::move(path), headers = std::move(headers)] {
      client_.Get(
          path, headers,
          [this](const httplib::Response& response) {
            absl::MutexLock lock(&mu_);
            status_ = response.status;
            headers_ = response.headers;
            return true;
          },
          [this](const char* data, size_t length) {
            absl::MutexLock lock(&mu_);
            pending_.append(data, length);
            Parse();
            return true;
          });
      absl::MutexLock lock(&mu_);
      ended_ = true;
    });
  }
  // stop() ends a request in flight; one that has not opened its socket yet
  // would miss it and then stream on (heartbeats keep it alive), so stop is
  // repeated until the reader thread has seen its request end.
  ~SseReader() {
    for (;;) {
      client_.stop();
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&ended_), absl::Milliseconds(50))) break;
    }
    reader_.join();
  }

  // The response status once the headers came (0 after the timeout).
  int Status(absl::Duration timeout = kHangBound) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(
        absl::Condition(
            +[](SseReader* r) ABSL_NO_THREAD_SAFETY_ANALYSIS { return r->status_ != 0 || r->ended_; }, this),
        timeout);
    return status_;
  }

  // A response header, once Status() saw the headers ("" when absent).
  std::string Header(const std::string& name) {
    absl::MutexLock lock(&mu_);
    auto it = headers_.find(name);
    return it == headers_.end() ? "" : it->second;
  }

  std::optional<SseEvent> Next(absl::Duration timeout = kHangBound) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(
        absl::Condition(
            +[](SseReader* r) ABSL_NO_THREAD_SAFETY_ANALYSIS { return !r->events_.empty() || r->ended_; }, this),
        timeout);
    if (events_.empty()) return std::nullopt;
    SseEvent event = std::move(events_.front());
    events_.pop_front();
    return event;
  }

  // The next event of `type`, skipping others.
  std::optional<SseEvent> NextOfType(absl::string_view type) {
    for (std::optional<SseEvent> event = Next(); event.has_value(); event = Next()) {
      if (event->event == type) return event;
    }
    return std::nullopt;
  }

 private:
  void Parse() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (size_t end = pending_.find("\n\n"); end != std::string::npos; end = pending_.find("\n\n")) {
      const std::string block = pending_.substr(0, end);
      pending_.erase(0, end + 2);
      SseEvent event;
      bool any = false;
      for (absl::string_view line : absl::StrSplit(block, '\n')) {
        if (absl::ConsumePrefix(&line, "id: ")) {
          event.id = std::string(line);
          any = true;
        } else if (absl::ConsumePrefix(&line, "event: ")) {
          event.event = std::string(line);
          any = true;
        } else if (absl::ConsumePrefix(&line, "data: ")) {
          absl::StrAppend(&event.data, event.data.empty() ? "" : "\n", line);
          any = true;
        }
      }
      if (any) events_.push_back(std::move(event));
    }
  }

  httplib::Client client_;
  absl::Mutex mu_;
  int status_ ABSL_GUARDED_BY(mu_) = 0;
  httplib::Headers headers_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  std::string pending_ ABSL_GUARDED_BY(mu_);
  std::deque<SseEvent> events_ ABSL_GUARDED_BY(mu_);
  std::thread reader_;
};

// A bridge with the gateway on and a backend policy: "ops" may act for any
// account, "billing" for account A only.
class HttpGatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    policy_path_ = WriteTemp("policy", absl::StrCat("billing token:", kBillingToken, " ", account_a_, "\n",
                                                    "ops token:", kOpsToken, " *\n"));
    // A state directory, for the fleet jobs' routes.
    absl::StatusOr<std::unique_ptr<BridgeProcess>> bridge = BridgeProcess::Start(
        {"--http-listen=127.0.0.1:0", "--backend-policy-file=" + policy_path_, "--state-dir=" + state_dir_});
    ASSERT_TRUE(bridge.ok()) << bridge.status();
    bridge_ = *std::move(bridge);
    ASSERT_GT(bridge_->http_port(), 0) << bridge_->Log();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", bridge_->http_port());
    client_->set_read_timeout(std::chrono::seconds(30));
  }
  void TearDown() override {
    bridge_.reset();
    std::remove(policy_path_.c_str());
    std::filesystem::remove_all(state_dir_);
  }

  // A device of `account` that answers requests with an ack, connected and
  // listed by the bridge.
  TestDevice& ConnectDevice(const std::string& account) {
    devices_.push_back(MakeDevice(*bridge_, {.account_id = account, .responder = Responder::Ack()}));
    TestDevice& device = *devices_.back();
    EXPECT_TRUE(device.ConnectAndAuthenticate().ok());
    EXPECT_TRUE(WaitUntil([&] { return Get("/api/v1/devices/" + device.device_id()).status == 200; },
                          "the gateway lists the device"))
        << Log();
    return device;
  }

  struct Answer {
    int status = 0;
    std::string body;
  };
  Answer Get(const std::string& path, const std::string& token = kOpsToken) {
    return Of(client_->Get(path, Bearer(token)));
  }
  Answer Post(const std::string& path, const std::string& body, const std::string& token = kOpsToken) {
    return Of(client_->Post(path, Bearer(token), body, "application/json"));
  }
  static Answer Of(const httplib::Result& result) {
    if (!result) return {-1, httplib::to_string(result.error())};
    return {result->status, result->body};
  }

  std::unique_ptr<SseReader> Stream(const std::string& path, httplib::Headers headers = Bearer(kOpsToken)) {
    return std::make_unique<SseReader>(bridge_->http_port(), path, std::move(headers));
  }

  std::string Log() { return bridge_->Log(); }

  const std::string account_a_ = NewUuid();
  const std::string account_b_ = NewUuid();
  std::string policy_path_;
  const std::string state_dir_ = ::testing::TempDir() + "/gateway-state-" + NewUuid();
  std::unique_ptr<BridgeProcess> bridge_;
  std::unique_ptr<httplib::Client> client_;
  std::vector<std::unique_ptr<TestDevice>> devices_;
};

TEST_F(HttpGatewayTest, SendDeviceRequestAnswersTheResponseAsProto3Json) {
  TestDevice& device = ConnectDevice(account_a_);
  const std::string request_id = NewUuid();
  SendDeviceRequestRequest request = RequestTo(device.device_id());
  request.set_request_id(request_id);
  const Answer answer = Post("/api/v1/devices/" + device.device_id() + "/requests", ToJson(request));
  ASSERT_EQ(answer.status, 200) << answer.body << Log();
  EXPECT_THAT(answer.body, HasSubstr(R"("status":"REQUEST_STATUS_ACKED")"));
  const auto response = FromJson<SendDeviceRequestResponse>(answer.body);
  EXPECT_EQ(response.request_id(), request_id);
  EXPECT_EQ(response.status(), hive::bridge::v1::REQUEST_STATUS_ACKED);

  // The body may leave the device out: the path names it.
  request.clear_device_id();
  request.set_request_id(NewUuid());
  EXPECT_EQ(Post("/api/v1/devices/" + device.device_id() + "/requests", ToJson(request)).status, 200);
}

// Trace context (docs/protocol.md#trace-context): the caller's traceparent
// reaches the call, and the bridge's span for it comes back as a header.
TEST_F(HttpGatewayTest, TraceparentHeaderIsContinuedAndAnswered) {
  constexpr char kTraceId[] = "4bf92f3577b34da6a3ce929d0e0e4736";
  TestDevice& device = ConnectDevice(account_a_);
  SendDeviceRequestRequest request = RequestTo(device.device_id());
  request.set_request_id(NewUuid());
  httplib::Headers headers = Bearer(kOpsToken);
  headers.emplace("traceparent", absl::StrCat("00-", kTraceId, "-00f067aa0ba902b7-01"));
  headers.emplace("tracestate", "congo=t61rcWkgMzE");
  httplib::Result sent = client_->Post("/api/v1/devices/" + device.device_id() + "/requests", headers, ToJson(request),
                                       "application/json");
  ASSERT_TRUE(sent) << httplib::to_string(sent.error());
  ASSERT_EQ(sent->status, 200) << sent->body << Log();
  const std::string answered = sent->get_header_value("traceparent");
  EXPECT_THAT(answered, ::testing::MatchesRegex(absl::StrCat("00-", kTraceId, "-[0-9a-f]{16}-01")));
  EXPECT_THAT(answered, ::testing::Not(HasSubstr("00f067aa0ba902b7")));
  EXPECT_EQ(sent->get_header_value("tracestate"), "congo=t61rcWkgMzE");
  ASSERT_TRUE(bridge_->WaitForLog(absl::StrCat("request=", request.request_id()), absl::Seconds(5))) << Log();
  EXPECT_THAT(Log(), ::testing::ContainsRegex(
                         absl::StrCat("event=device_request request=", request.request_id(), " .* trace=", kTraceId)));

  // Without one, a fresh trace is answered; an error answer has it too.
  httplib::Result fresh = client_->Get("/api/v1/devices/" + NewUuid(), Bearer(kOpsToken));
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->status, 404);
  EXPECT_THAT(fresh->get_header_value("traceparent"), ::testing::MatchesRegex("00-[0-9a-f]{32}-[0-9a-f]{16}-00"));

  // Event streams answer it with their headers.
  httplib::Headers stream_headers = Bearer(kOpsToken);
  stream_headers.emplace("traceparent", absl::StrCat("00-", kTraceId, "-00f067aa0ba902b7-01"));
  std::unique_ptr<SseReader> stream = Stream("/api/v1/events?device_ids=" + device.device_id(), stream_headers);
  ASSERT_EQ(stream->Status(), 200) << Log();
  EXPECT_THAT(stream->Header("traceparent"),
              ::testing::MatchesRegex(absl::StrCat("00-", kTraceId, "-[0-9a-f]{16}-01")));
}

TEST_F(HttpGatewayTest, SendDeviceRequestRefusesBadInputWithTheGrpcStatusAndErrorBody) {
  TestDevice& device = ConnectDevice(account_a_);
  const std::string path = "/api/v1/devices/" + device.device_id() + "/requests";

  Answer unknown = Post(path, R"({"command":{"raw":{"name":"x"}},"bogus":1})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_THAT(unknown.body, HasSubstr(R"("code":3,)"));
  EXPECT_THAT(unknown.body, HasSubstr("bogus"));

  Answer not_json = Post(path, "{not json");
  EXPECT_EQ(not_json.status, 400);
  EXPECT_THAT(not_json.body, HasSubstr(R"({"code":3,"message":"request body: )"));

  const std::string other = NewUuid();
  Answer mismatch = Post(path, ToJson(RequestTo(other)));
  EXPECT_EQ(mismatch.status, 400);
  EXPECT_EQ(mismatch.body, ErrorJson(3, absl::StrCat("device_id: \\\"", other, "\\\" differs from the path's \\\"",
                                                     device.device_id(), "\\\" (leave it out or make them equal)")));

  Answer bad_id = Post("/api/v1/devices/not-a-uuid/requests", ToJson(RequestTo("")));
  EXPECT_EQ(bad_id.status, 400);
  EXPECT_EQ(bad_id.body, ErrorJson(3, R"(device_id: expected a UUID, got \"not-a-uuid\")"));

  Answer offline = Post("/api/v1/devices/" + other + "/requests", ToJson(RequestTo("")));
  EXPECT_EQ(offline.status, 404) << offline.body;
  EXPECT_THAT(offline.body, HasSubstr(R"({"code":5,"message":")"));
}

TEST_F(HttpGatewayTest, ListDevicesTakesItsFieldsAsQueryParameters) {
  TestDevice& device = ConnectDevice(account_a_);
  ConnectDevice(account_b_);

  for (const std::string& query : {"account_id=" + account_a_, "accountId=" + account_a_ + "&presence=PRESENCE_ALL",
                                   "account_id=" + account_a_ + "&page_size=10&presence=1"}) {
    Answer answer = Get("/api/v1/devices?" + query);
    ASSERT_EQ(answer.status, 200) << query << ": " << answer.body;
    const auto list = FromJson<ListDevicesResponse>(answer.body);
    ASSERT_EQ(list.devices_size(), 1) << query << ": " << answer.body;
    EXPECT_EQ(list.devices(0).device_id(), device.device_id());
    EXPECT_TRUE(list.devices(0).online());
  }

  EXPECT_EQ(Get("/api/v1/devices?page_size=ten").body,
            ErrorJson(3, R"(query parameter \"page_size\": expected a 32-bit integer, got \"ten\")"));
  EXPECT_EQ(
      Get("/api/v1/devices?color=red").body,
      ErrorJson(3, R"(unknown query parameter \"color\"; hive.bridge.v1.ListDevicesRequest has no field \"color\")"));
  Answer presence = Get("/api/v1/devices?presence=SOMETIMES");
  EXPECT_EQ(presence.status, 400);
  EXPECT_THAT(presence.body, HasSubstr("PRESENCE_ONLINE"));
  // The bridge's own validation, through the gateway.
  Answer bad_account = Get("/api/v1/devices?account_id=nope");
  EXPECT_EQ(bad_account.status, 400);
  EXPECT_THAT(bad_account.body, HasSubstr(R"({"code":3,"message":"account_id)"));
}

TEST_F(HttpGatewayTest, GetDeviceDescribesItOrAnswersNotFound) {
  TestDevice& device = ConnectDevice(account_a_);
  Answer answer = Get("/api/v1/devices/" + device.device_id());
  ASSERT_EQ(answer.status, 200) << answer.body;
  const auto got = FromJson<GetDeviceResponse>(answer.body);
  EXPECT_EQ(got.device().device_id(), device.device_id());
  EXPECT_EQ(got.device().account_id(), account_a_);
  EXPECT_THAT(answer.body, HasSubstr(R"("deviceId":")"));

  Answer unknown = Get("/api/v1/devices/" + NewUuid());
  EXPECT_EQ(unknown.status, 404);
  EXPECT_THAT(unknown.body, HasSubstr(R"({"code":5,"message":")"));
  EXPECT_EQ(Get("/api/v1/devices/x").status, 400);
}

TEST_F(HttpGatewayTest, GetRequestAndCancelRequestAnswerAsTheGrpcCalls) {
  TestDevice& device = ConnectDevice(account_a_);
  const std::string request_id = NewUuid();
  SendDeviceRequestRequest request = RequestTo(device.device_id());
  request.set_request_id(request_id);
  ASSERT_EQ(Post("/api/v1/devices/" + device.device_id() + "/requests", ToJson(request)).status, 200);

  Answer got = Get("/api/v1/requests/" + request_id);
  ASSERT_EQ(got.status, 200) << got.body;
  const auto record = FromJson<GetRequestResponse>(got.body);
  EXPECT_EQ(record.request().request_id(), request_id);
  EXPECT_EQ(record.request().device_id(), device.device_id());

  // Only a queued request can be cancelled: FAILED_PRECONDITION is 400.
  Answer cancel = Post("/api/v1/requests/" + request_id + "/cancel", "");
  EXPECT_EQ(cancel.status, 400) << cancel.body;
  EXPECT_THAT(cancel.body, HasSubstr(R"({"code":9,"message":")"));

  const std::string unknown = NewUuid();
  EXPECT_EQ(Get("/api/v1/requests/" + unknown).status, 404);
  Answer cancel_unknown = Post("/api/v1/requests/" + unknown + "/cancel", "{}");
  EXPECT_EQ(cancel_unknown.status, 404);
  EXPECT_THAT(cancel_unknown.body, HasSubstr(R"({"code":5,"message":")"));
  EXPECT_EQ(Post("/api/v1/requests/" + unknown + "/cancel", R"({"requestId":"x"})").status, 400);
}

TEST_F(HttpGatewayTest, UnknownPathsAre404AndWrongMethods405) {
  EXPECT_EQ(Get("/api/v1/nothing").status, 404);
  EXPECT_EQ(Get("/api/v1/nothing").body, ErrorJson(5, "no such path: /api/v1/nothing"));
  EXPECT_EQ(Get("/").status, 404);
  Answer wrong = Post("/api/v1/devices", "{}");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.body, ErrorJson(12, "method POST not allowed on /api/v1/devices; use GET"));
  EXPECT_EQ(Get("/api/v1/requests/" + NewUuid() + "/cancel").status, 405);
}

TEST_F(HttpGatewayTest, TheBackendPolicyRefusesWithoutOrWithAWrongTokenAndOutsideTheGrant) {
  TestDevice& device_b = ConnectDevice(account_b_);

  Answer none = Get("/api/v1/devices", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.body, ErrorJson(16, "a bearer token (authorization metadata) or a client certificate is required"));
  Answer wrong = Get("/api/v1/devices", "not-a-known-token");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.body, ErrorJson(16, "the bearer token is not known to this bridge"));

  // "billing" may act for account A only.
  Answer denied = Get("/api/v1/devices?account_id=" + account_b_, kBillingToken);
  EXPECT_EQ(denied.status, 403) << denied.body;
  EXPECT_EQ(denied.body, ErrorJson(7, absl::StrCat(R"(caller \"billing\" may not act for account )", account_b_)));
  SendDeviceRequestRequest request = RequestTo(device_b.device_id());
  request.set_account_id(account_b_);
  EXPECT_EQ(Post("/api/v1/devices/" + device_b.device_id() + "/requests", ToJson(request), kBillingToken).status, 403);
  // An event stream refused by the policy is an HTTP error, not a 200.
  std::unique_ptr<SseReader> stream = Stream("/api/v1/events", {});
  EXPECT_EQ(stream->Status(), 401);
}

TEST_F(HttpGatewayTest, EventsStreamAsServerSentEvents) {
  TestDevice& device = ConnectDevice(account_a_);
  std::unique_ptr<SseReader> stream = Stream("/api/v1/events?device_ids=" + device.device_id() + "&types=device-state");
  ASSERT_EQ(stream->Status(), 200) << Log();
  device.Send(R"({"type":"device-state","state":"disk-low"})");
  std::optional<SseEvent> event = stream->Next();
  ASSERT_TRUE(event.has_value()) << Log();
  EXPECT_EQ(event->event, "device-state");
  const auto decoded = FromJson<DeviceEvent>(event->data);
  EXPECT_EQ(decoded.device_id(), device.device_id());
  EXPECT_EQ(decoded.device_state().state(), "disk-low");
  EXPECT_EQ(event->id, absl::StrCat(decoded.epoch(), ":", decoded.sequence()));
  EXPECT_EQ(decoded.epoch(), bridge_->epoch());

  // A bad filter is refused before the stream starts.
  std::unique_ptr<SseReader> bad = Stream("/api/v1/events?device_ids=nope");
  EXPECT_EQ(bad->Status(), 400);
}

TEST_F(HttpGatewayTest, LastEventIdResumesExactlyAfterThatEvent) {
  TestDevice& device = ConnectDevice(account_a_);
  const std::string path = "/api/v1/events?types=device-state&device_ids=" + device.device_id();
  std::vector<SseEvent> seen;
  {
    std::unique_ptr<SseReader> first = Stream(path);
    ASSERT_EQ(first->Status(), 200);
    for (const char* state : {"one", "two", "three"}) {
      device.Send(absl::StrCat(R"({"type":"device-state","state":")", state, R"("})"));
      std::optional<SseEvent> event = first->Next();
      ASSERT_TRUE(event.has_value()) << Log();
      seen.push_back(*event);
    }
  }
  // Reconnecting as EventSource does, after the first event.
  httplib::Headers headers = Bearer(kOpsToken);
  headers.emplace("Last-Event-ID", seen[0].id);
  std::unique_ptr<SseReader> resumed = Stream(path, headers);
  ASSERT_EQ(resumed->Status(), 200);
  device.Send(R"({"type":"device-state","state":"four"})");
  std::vector<std::string> states;
  for (int i = 0; i < 3; ++i) {
    std::optional<SseEvent> event = resumed->Next();
    ASSERT_TRUE(event.has_value()) << Log();
    states.push_back(FromJson<DeviceEvent>(event->data).device_state().state());
    if (i < 2) {
      EXPECT_EQ(event->id, seen[i + 1].id);
    }
  }
  EXPECT_EQ(states, (std::vector<std::string>{"two", "three", "four"}));

  // The same with the resume_after query parameter.
  std::unique_ptr<SseReader> by_query = Stream(path + "&resume_after=" + seen[1].id);
  std::optional<SseEvent> next = by_query->Next();
  ASSERT_TRUE(next.has_value()) << Log();
  EXPECT_EQ(next->id, seen[2].id);

  // A position that is no event id is refused.
  headers.erase("Last-Event-ID");
  headers.emplace("Last-Event-ID", "yesterday");
  EXPECT_EQ(Stream(path, headers)->Status(), 400);
}

TEST_F(HttpGatewayTest, WatchDevicesStreamsTheSnapshotThenItsEnd) {
  TestDevice& device = ConnectDevice(account_a_);
  std::unique_ptr<SseReader> stream = Stream("/api/v1/devices:watch?account_ids=" + account_a_);
  ASSERT_EQ(stream->Status(), 200);
  std::optional<SseEvent> twin = stream->Next();
  ASSERT_TRUE(twin.has_value()) << Log();
  EXPECT_EQ(twin->event, "device");
  EXPECT_EQ(FromJson<WatchDevicesResponse>(twin->data).device().device_id(), device.device_id());
  std::optional<SseEvent> end = stream->Next();
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->event, "snapshot-complete");
  EXPECT_TRUE(FromJson<WatchDevicesResponse>(end->data).snapshot_complete());

  std::unique_ptr<SseReader> bad = Stream("/api/v1/devices:watch?account_ids=nope");
  EXPECT_EQ(bad->Status(), 400);
}

TEST_F(HttpGatewayTest, FleetJobsStartGetListWatchAndCancel) {
  TestDevice& device = ConnectDevice(account_a_);
  hive::bridge::v1::StartJobRequest start;
  start.mutable_target()->mutable_selector()->set_account_id(account_a_);
  start.mutable_command()->mutable_scheduler_action()->set_action(hive::bridge::v1::SchedulerAction::ACTION_STOP);
  start.mutable_command()->mutable_scheduler_action()->set_instance(NewUuid());
  start.mutable_queue_ttl()->set_seconds(60);
  start.mutable_rollout()->set_max_rate(10);
  const Answer started = Post("/api/v1/jobs", ToJson(start));
  ASSERT_EQ(started.status, 200) << started.body << Log();
  const std::string job_id = FromJson<hive::bridge::v1::StartJobResponse>(started.body).job().job_id();
  ASSERT_TRUE(IsUuid(job_id)) << started.body;

  // Watched to its end: the device's outcome, then the job's end, then the
  // stream ends.
  std::unique_ptr<SseReader> watch = Stream("/api/v1/jobs/" + job_id + ":watch");
  EXPECT_EQ(watch->Status(), 200);
  std::optional<SseEvent> outcome = watch->NextOfType("outcome");
  ASSERT_TRUE(outcome.has_value()) << Log();
  EXPECT_THAT(outcome->data, HasSubstr(device.device_id()));
  std::optional<SseEvent> last;
  for (std::optional<SseEvent> event = watch->Next(); event.has_value(); event = watch->Next()) last = event;
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->event, "job");
  EXPECT_THAT(last->data, HasSubstr(R"("state":"JOB_STATE_COMPLETED")"));
  EXPECT_EQ(device.received_requests(), 1);
  // Last-Event-ID resumes after that change.
  httplib::Headers resume = Bearer(kOpsToken);
  resume.emplace("Last-Event-ID", outcome->id);
  std::unique_ptr<SseReader> resumed = Stream("/api/v1/jobs/" + job_id + ":watch", resume);
  std::optional<SseEvent> after = resumed->Next();
  ASSERT_TRUE(after.has_value());
  EXPECT_GT(std::stoull(after->id), std::stoull(outcome->id));

  const Answer got = Get("/api/v1/jobs/" + job_id);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_THAT(got.body, HasSubstr(R"("state":"JOB_STATE_COMPLETED")"));
  EXPECT_THAT(Get("/api/v1/jobs?states=JOB_STATE_COMPLETED").body, HasSubstr(job_id));
  const Answer cancelled = Post("/api/v1/jobs/" + job_id + "/cancel", "");
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_THAT(cancelled.body, HasSubstr(R"("state":"JOB_STATE_COMPLETED")")) << "an ended job stays as it ended";
  EXPECT_EQ(Get("/api/v1/jobs/" + NewUuid()).status, 404);
  EXPECT_EQ(Get("/api/v1/jobs/not-a-job").status, 400);
  // The policy holds: "billing" may not send a job to account B.
  start.mutable_target()->mutable_selector()->set_account_id(account_b_);
  EXPECT_EQ(Post("/api/v1/jobs", ToJson(start), kBillingToken).status, 403);
}

TEST(HttpGatewayFlags, TheBridgeRefusesToServeTheGatewayWithoutAPolicyUnlessTold) {
  absl::StatusOr<std::unique_ptr<BridgeProcess>> refused = BridgeProcess::Start({"--http-listen=127.0.0.1:0"});
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("--http-listen needs --backend-policy-file"));

  absl::StatusOr<std::unique_ptr<BridgeProcess>> open =
      BridgeProcess::Start({"--http-listen=127.0.0.1:0", "--http-gateway-without-policy=true"});
  ASSERT_TRUE(open.ok()) << open.status();
  EXPECT_TRUE((*open)->WaitForLog("event=http_gateway_without_policy", kHangBound));
  httplib::Client client("127.0.0.1", (*open)->http_port());
  httplib::Result list = client.Get("/api/v1/devices");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->status, 200);
  EXPECT_EQ(list->body, R"({"devices":[],"nextPageToken":""})");
}

TEST(HttpGatewayFlags, ABodyOverMaxMessageBytesIs413AndCounted) {
  absl::StatusOr<std::unique_ptr<BridgeProcess>> bridge = BridgeProcess::Start(
      {"--http-listen=127.0.0.1:0", "--http-gateway-without-policy=true", "--max-message-bytes=1KiB"});
  ASSERT_TRUE(bridge.ok()) << bridge.status();
  httplib::Client client("127.0.0.1", (*bridge)->http_port());
  const std::string big = absl::StrCat(R"({"command":{"raw":{"name":")", std::string(2048, 'x'), R"("}}})");
  httplib::Result sent = client.Post("/api/v1/devices/" + NewUuid() + "/requests", big, "application/json");
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->status, 413);
  EXPECT_EQ(sent->body, ErrorJson(8, "request body over --max-message-bytes (1024 bytes)"));
  httplib::Client metrics("127.0.0.1", (*bridge)->ws_port());
  httplib::Result page = metrics.Get("/metrics");
  ASSERT_TRUE(page);
  EXPECT_THAT(page->body, HasSubstr("hivebridge_limit_refusals_total{limit=\"max-message-bytes\"} 1\n"));
}

TEST(HttpGatewayFlags, WithGrpcTlsTheGatewayServesHttpsWithTheSameCertificate) {
  TestCertificates certs;
  if (::testing::Test::HasFatalFailure()) return;
  absl::StatusOr<std::unique_ptr<BridgeProcess>> bridge = BridgeProcess::Start(
      {"--http-listen=127.0.0.1:0", "--http-gateway-without-policy=true", "--grpc-tls-cert=" + certs.path("server.pem"),
       "--grpc-tls-key=" + certs.path("server.key")});
  ASSERT_TRUE(bridge.ok()) << bridge.status();
  httplib::SSLClient client("127.0.0.1", (*bridge)->http_port());
  client.set_ca_cert_path(certs.path("ca.pem").c_str());
  client.enable_server_certificate_verification(true);
  httplib::Result list = client.Get("/api/v1/devices");
  ASSERT_TRUE(list) << httplib::to_string(list.error()) << (*bridge)->Log();
  EXPECT_EQ(list->status, 200);
  // Plain HTTP on the HTTPS port gets no answer.
  httplib::Client plain("127.0.0.1", (*bridge)->http_port());
  plain.set_read_timeout(std::chrono::seconds(5));
  httplib::Result refused = plain.Get("/api/v1/devices");
  EXPECT_TRUE(!refused || refused->status != 200);
}

TEST(HttpGatewayFlags, WithoutHttpListenThereIsNoGatewayNotEvenOnTheDevicePort) {
  absl::StatusOr<std::unique_ptr<BridgeProcess>> bridge = BridgeProcess::Start();
  ASSERT_TRUE(bridge.ok()) << bridge.status();
  EXPECT_EQ((*bridge)->http_port(), 0);
  httplib::Client client("127.0.0.1", (*bridge)->ws_port());
  httplib::Result list = client.Get("/api/v1/devices");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->status, 404);
  EXPECT_THAT(list->body, ::testing::Not(HasSubstr("devices")));
}

}  // namespace
}  // namespace hive::integration

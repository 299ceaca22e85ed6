// Backend authorisation and gRPC over TLS: callers admitted by bearer token or
// client certificate (mTLS), each held to the accounts its policy line grants.
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge/uuid.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_process.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/event_stream.h"
#include "tests/integration/support/grpc_calls.h"
#include "tests/integration/support/test_certificates.h"

namespace hive::integration {
namespace {

using hive::bridge::v1::GetDeviceRequest;
using hive::bridge::v1::GetDeviceResponse;
using hive::bridge::v1::ListDevicesRequest;
using hive::bridge::v1::ListDevicesResponse;
using hive::bridge::v1::SendDeviceRequestRequest;
using hive::bridge::v1::SendDeviceRequestResponse;
using hive::bridge::v1::SubscribeEventsRequest;
using hive::bridge::v1::SubscribeEventsResponse;

constexpr char kBillingToken[] = "billing-token-0123456789";
constexpr char kOpsToken[] = "ops-token-0123456789abcdef";

std::string WriteTemp(const std::string& name, const std::string& contents) {
  const std::string path = ::testing::TempDir() + "/" + name + "-" + NewUuid();
  std::ofstream(path) << contents;
  return path;
}

grpc::Status Call(Stub& stub, const std::string& token, const std::function<grpc::Status(grpc::ClientContext&)>& call) {
  grpc::ClientContext context;
  SetDeadline(context, absl::Seconds(5));
  if (!token.empty()) context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  return call(context);
}

class BackendAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    policy_path_ = WriteTemp("policy", absl::StrCat("billing token:", kBillingToken, " ", account_a_, "\n",
                                                    "ops token:", kOpsToken, " *\n"));
    absl::StatusOr<std::unique_ptr<BridgeProcess>> bridge =
        BridgeProcess::Start({"--backend-policy-file=" + policy_path_});
    ASSERT_TRUE(bridge.ok()) << bridge.status();
    bridge_ = *std::move(bridge);
    stub_ = bridge_->NewStub();
    device_a_ = MakeDevice(*bridge_, {.account_id = account_a_, .responder = Responder::Ack()});
    device_b_ = MakeDevice(*bridge_, {.account_id = account_b_, .responder = Responder::Ack()});
    ASSERT_TRUE(device_a_->ConnectAndAuthenticate().ok());
    ASSERT_TRUE(device_b_->ConnectAndAuthenticate().ok());
  }
  void TearDown() override { std::remove(policy_path_.c_str()); }

  grpc::Status Send(const std::string& token, const std::string& device_id) {
    SendDeviceRequestResponse response;
    return Call(*stub_, token, [&](grpc::ClientContext& context) {
      return stub_->SendDeviceRequest(&context, RequestTo(device_id), &response);
    });
  }

  const std::string account_a_ = NewUuid();
  const std::string account_b_ = NewUuid();
  std::string policy_path_;
  std::unique_ptr<BridgeProcess> bridge_;
  std::unique_ptr<Stub> stub_;
  std::unique_ptr<TestDevice> device_a_;
  std::unique_ptr<TestDevice> device_b_;
};

TEST_F(BackendAuthTest, CallWithoutOrWithAnUnknownTokenIsUnauthenticated) {
  grpc::Status missing = Send("", device_a_->device_id());
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(missing.error_message(), ::testing::HasSubstr("bearer token"));
  grpc::Status unknown = Send("guessed-token-abcdefgh", device_a_->device_id());
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(unknown.error_message(), ::testing::Not(::testing::HasSubstr("guessed")));
  EXPECT_EQ(device_a_->received_requests(), 0);
}

TEST_F(BackendAuthTest, CallerMayReachItsAccountsDevicesOnly) {
  EXPECT_TRUE(Send(kBillingToken, device_a_->device_id()).ok());
  // Another account's device is answered as if it were not connected.
  grpc::Status hidden = Send(kBillingToken, device_b_->device_id());
  EXPECT_EQ(hidden.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(hidden.error_message(), "device " + device_b_->device_id() + " is not connected");
  EXPECT_EQ(device_b_->received_requests(), 0);
  EXPECT_TRUE(Send(kOpsToken, device_b_->device_id()).ok());

  GetDeviceRequest get;
  get.set_device_id(device_b_->device_id());
  GetDeviceResponse got;
  grpc::Status got_hidden =
      Call(*stub_, kBillingToken, [&](grpc::ClientContext& c) { return stub_->GetDevice(&c, get, &got); });
  EXPECT_EQ(got_hidden.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(got_hidden.error_message(), "device " + device_b_->device_id() + " is not connected");
}

// A restricted caller must not learn which devices of other accounts are
// online: a device outside its grant gets the very answer an absent one gets.
TEST_F(BackendAuthTest, AnotherAccountsOnlineDeviceIsIndistinguishableFromAnAbsentOne) {
  const std::string absent = NewUuid();
  auto send = [&](const std::string& device_id, absl::Duration connect_timeout) {
    SendDeviceRequestRequest request = RequestTo(device_id);
    request.mutable_connect_timeout()->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(connect_timeout)));
    SendDeviceRequestResponse response;
    return Call(*stub_, kBillingToken,
                [&](grpc::ClientContext& context) { return stub_->SendDeviceRequest(&context, request, &response); });
  };
  auto get = [&](const std::string& device_id) {
    GetDeviceRequest request;
    request.set_device_id(device_id);
    GetDeviceResponse response;
    return Call(*stub_, kBillingToken,
                [&](grpc::ClientContext& context) { return stub_->GetDevice(&context, request, &response); });
  };
  // The id is the only difference between the two answers.
  auto shape = [](const grpc::Status& status, const std::string& device_id) {
    std::string message = status.error_message();
    const size_t at = message.find(device_id);
    if (at != std::string::npos) message.replace(at, device_id.size(), "<device>");
    return std::make_pair(status.error_code(), message);
  };
  for (absl::Duration connect_timeout : {absl::ZeroDuration(), absl::Milliseconds(300)}) {
    SCOPED_TRACE(absl::FormatDuration(connect_timeout));
    EXPECT_EQ(shape(send(device_b_->device_id(), connect_timeout), device_b_->device_id()),
              shape(send(absent, connect_timeout), absent));
  }
  EXPECT_EQ(shape(get(device_b_->device_id()), device_b_->device_id()), shape(get(absent), absent));
  EXPECT_EQ(shape(get(absent), absent).first, grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(device_b_->received_requests(), 0);
}

TEST_F(BackendAuthTest, AnAccountOutsideTheGrantIsPermissionDeniedBeforeAnyLookup) {
  // Whether or not the account has this device, or the device is online.
  for (const std::string& device_id : {device_b_->device_id(), device_a_->device_id(), NewUuid()}) {
    SendDeviceRequestRequest request = RequestTo(device_id);
    request.set_account_id(account_b_);
    request.mutable_connect_timeout()->set_seconds(30);
    SendDeviceRequestResponse response;
    grpc::Status denied = Call(*stub_, kBillingToken, [&](grpc::ClientContext& context) {
      return stub_->SendDeviceRequest(&context, request, &response);
    });
    EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED) << device_id;
    EXPECT_EQ(denied.error_message(), "caller \"billing\" may not act for account " + account_b_) << device_id;
  }
  EXPECT_EQ(device_a_->received_requests(), 0);
  EXPECT_EQ(device_b_->received_requests(), 0);
}

TEST_F(BackendAuthTest, RestrictedCallerListsOnlyAnAccountItNames) {
  ListDevicesRequest request;
  ListDevicesResponse response;
  auto list = [&](const std::string& token) {
    response.Clear();
    return Call(*stub_, token, [&](grpc::ClientContext& c) { return stub_->ListDevices(&c, request, &response); });
  };
  EXPECT_EQ(list(kBillingToken).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  request.set_account_id(account_b_);
  EXPECT_EQ(list(kBillingToken).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  request.set_account_id(account_a_);
  ASSERT_TRUE(list(kBillingToken).ok());
  ASSERT_EQ(response.devices_size(), 1);
  EXPECT_EQ(response.devices(0).device_id(), device_a_->device_id());
}

TEST_F(BackendAuthTest, RestrictedSubscriberSeesOnlyItsAccountsEvents) {
  SubscribeEventsRequest other;
  other.add_account_ids(account_b_);
  grpc::ClientContext refused_context;
  refused_context.AddMetadata("authorization", absl::StrCat("Bearer ", kBillingToken));
  SetDeadline(refused_context, absl::Seconds(5));
  auto refused = stub_->SubscribeEvents(&refused_context, other);
  SubscribeEventsResponse ignored;
  EXPECT_FALSE(refused->Read(&ignored));
  EXPECT_EQ(refused->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // Both streams start at the bridge's first event, so neither has to be
  // registered before the devices send: no wait for the subscription.
  SubscribeEventsRequest from_start;
  from_start.mutable_resume_after()->set_epoch(bridge_->epoch());
  from_start.mutable_resume_after()->set_sequence(0);
  auto open = [&](grpc::ClientContext& context, const char* token) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    SetDeadline(context, absl::Seconds(30));  // bounds a hang only
    return stub_->SubscribeEvents(&context, from_start);
  };
  // The events read up to and including the first device-state; nullopt when the stream ends first.
  auto read_to_state = [](grpc::ClientReader<SubscribeEventsResponse>& reader) {
    std::vector<hive::bridge::v1::DeviceEvent> read;
    SubscribeEventsResponse response;
    while (reader.Read(&response)) {
      read.push_back(response.event());
      if (response.event().type() == "device-state") return std::optional(read);
    }
    return std::optional<std::vector<hive::bridge::v1::DeviceEvent>>();
  };
  grpc::ClientContext ops_context;
  auto everything = open(ops_context, kOpsToken);
  grpc::ClientContext context;
  auto restricted = open(context, kBillingToken);

  // Account b's event is published before account a's is sent (the
  // unrestricted stream has it), so had the filter let it through the
  // restricted stream would have it before a's.
  device_b_->Send(R"({"type":"device-state","state":"b"})");
  std::optional<std::vector<hive::bridge::v1::DeviceEvent>> seen_by_ops = read_to_state(*everything);
  ASSERT_TRUE(seen_by_ops.has_value()) << bridge_->Log();
  ASSERT_EQ(seen_by_ops->back().account_id(), account_b_);
  device_a_->Send(R"({"type":"device-state","state":"a"})");

  std::optional<std::vector<hive::bridge::v1::DeviceEvent>> seen = read_to_state(*restricted);
  ASSERT_TRUE(seen.has_value()) << bridge_->Log();
  EXPECT_EQ(seen->back().device_id(), device_a_->device_id());
  for (const hive::bridge::v1::DeviceEvent& event : *seen) {
    EXPECT_EQ(event.account_id(), account_a_) << event.ShortDebugString();
  }
  context.TryCancel();
  ops_context.TryCancel();
}

std::unique_ptr<Stub> TlsStub(const BridgeProcess& bridge, const TestCertificates& certs, const std::string& client) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = certs.read("ca.pem");
  if (!client.empty()) {
    options.pem_private_key = certs.read(client + ".key");
    options.pem_cert_chain = certs.read(client + ".pem");
  }
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  return hive::bridge::v1::DeviceBridge::NewStub(
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", bridge.grpc_port()), grpc::SslCredentials(options), args));
}

TEST(GrpcTlsTest, MutualTlsAdmitsTheGrantedCertificateAndRefusesOthers) {
  TestCertificates certs;
  if (::testing::Test::HasFatalFailure()) return;
  const std::string policy = WriteTemp("policy", "ops cert:ops.backend.internal *\n");
  absl::StatusOr<std::unique_ptr<BridgeProcess>> bridge =
      BridgeProcess::Start({"--grpc-tls-cert=" + certs.path("server.pem"), "--grpc-tls-key=" + certs.path("server.key"),
                            "--grpc-client-ca=" + certs.path("ca.pem"), "--backend-policy-file=" + policy});
  ASSERT_TRUE(bridge.ok()) << bridge.status();
  ListDevicesResponse response;
  auto list = [&](Stub& stub) {
    return Call(stub, "", [&](grpc::ClientContext& c) { return stub.ListDevices(&c, {}, &response); });
  };
  grpc::Status admitted = list(*TlsStub(**bridge, certs, "ops"));
  EXPECT_TRUE(admitted.ok()) << admitted.error_message() << "\n" << (*bridge)->Log();
  EXPECT_EQ(list(*TlsStub(**bridge, certs, "")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(list(*TlsStub(**bridge, certs, "rogue")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(list(*(*bridge)->NewStub()).error_code(), grpc::StatusCode::UNAVAILABLE);
  std::remove(policy.c_str());
}

TEST(GrpcTlsTest, BadPolicyFileStopsStartUpNamingTheLine) {
  const std::string policy = WriteTemp("policy", "ops secret *\n");
  absl::StatusOr<std::unique_ptr<BridgeProcess>> bridge = BridgeProcess::Start({"--backend-policy-file=" + policy});
  ASSERT_FALSE(bridge.ok());
  EXPECT_THAT(std::string(bridge.status().message()),
              ::testing::HasSubstr("--backend-policy-file: backend policy line 1"));
  std::remove(policy.c_str());
}

}  // namespace
}  // namespace hive::integration

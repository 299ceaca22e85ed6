#include "tests/integration/support/bridge_test.h"

#include <stdexcept>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bridge/uuid.h"

namespace hive::integration {
namespace {

// Bounds a hang only: a connected device is listed at once.
constexpr absl::Duration kListedTimeout = absl::Seconds(30);
constexpr absl::Duration kListedPoll = absl::Milliseconds(5);

}  // namespace

void AbortTest(const std::string& why) { throw std::runtime_error(why); }

std::string NewId() { return NewUuid(); }

std::string DialectName(const ::testing::TestParamInfo<codec::Dialect>& info) {
  return info.param == codec::Dialect::kCompact ? "Compact" : "Standard";
}

std::unique_ptr<TestDevice> MakeDevice(const BridgeProcess& bridge, DeviceSpec spec) {
  if (spec.device_id.empty()) spec.device_id = NewId();
  if (spec.account_id.empty()) spec.account_id = NewId();
  DeviceOptions options;
  options.url = bridge.ws_url();
  options.token = spec.token.has_value() ? *spec.token : bridge.MintToken(spec.device_id, spec.account_id);
  options.device_id = std::move(spec.device_id);
  options.account_id = std::move(spec.account_id);
  options.auth = spec.auth;
  options.dialect = spec.dialect;
  options.responder = std::move(spec.responder);
  options.answer_pings = spec.answer_pings;
  return std::make_unique<TestDevice>(std::move(options));
}

void ConnectListed(TestDevice& device, const BridgeProcess& bridge, Stub& stub) {
  absl::StatusOr<std::string> authenticated = device.ConnectAndAuthenticate();
  if (!authenticated.ok()) AbortTest(absl::StrCat(authenticated.status().ToString(), "\nlog:\n", bridge.Log()));
  AwaitListed(device.device_id(), bridge, stub);
}

void AwaitListed(const std::string& device_id, const BridgeProcess& bridge, Stub& stub) {
  const absl::Time deadline = absl::Now() + kListedTimeout;
  while (true) {
    // Connected, not merely remembered (a device's twin outlives it).
    hive::bridge::v1::GetDeviceResponse response;
    if (GetDevice(stub, device_id, &response).ok() && response.device().online()) return;
    if (absl::Now() >= deadline) AbortTest(absl::StrCat("device ", device_id, " never listed; log:\n", bridge.Log()));
    absl::SleepFor(kListedPoll);
  }
}

std::unique_ptr<BridgeProcess>& BridgeTest::SuiteBridge() {
  static auto* const bridge = new std::unique_ptr<BridgeProcess>;
  return *bridge;
}

std::unique_ptr<Stub>& BridgeTest::SuiteStub() {
  static auto* const stub = new std::unique_ptr<Stub>;
  return *stub;
}

void BridgeTest::StartSuiteBridge(const std::vector<std::string>& flags) {
  absl::StatusOr<std::unique_ptr<BridgeProcess>> bridge = BridgeProcess::Start(flags);
  if (!bridge.ok()) AbortTest(absl::StrCat("cannot start hivebridge: ", bridge.status().ToString()));
  SuiteBridge() = *std::move(bridge);
  SuiteStub() = SuiteBridge()->NewStub();
}

void BridgeTest::StopSuiteBridge() {
  SuiteStub().reset();
  SuiteBridge().reset();
}

BridgeProcess& BridgeTest::suite_bridge() {
  if (SuiteBridge() == nullptr) AbortTest("no suite bridge: call StartSuiteBridge() first");
  return *SuiteBridge();
}

Stub& BridgeTest::suite_stub() {
  suite_bridge();
  return *SuiteStub();
}

void BridgeTest::StartOwnBridge(const std::vector<std::string>& flags, ChildLimits limits) {
  absl::StatusOr<std::unique_ptr<BridgeProcess>> bridge = BridgeProcess::Start(flags, limits);
  if (!bridge.ok()) AbortTest(absl::StrCat("cannot start hivebridge: ", bridge.status().ToString()));
  own_bridge_ = *std::move(bridge);
  own_stub_ = own_bridge_->NewStub();
}

void BridgeTest::TearDown() {
  streams_.clear();
  devices_.clear();
  own_stub_.reset();
  own_bridge_.reset();
}

BridgeProcess& BridgeTest::bridge() {
  if (own_bridge_ != nullptr) return *own_bridge_;
  if (SuiteBridge() == nullptr) AbortTest("no bridge: call StartSuiteBridge() or StartOwnBridge() first");
  return *SuiteBridge();
}

Stub& BridgeTest::stub() {
  if (own_stub_ != nullptr) return *own_stub_;
  bridge();  // aborts when there is none
  return *SuiteStub();
}

TestDevice& BridgeTest::NewDevice(DeviceSpec spec) {
  devices_.push_back(MakeDevice(bridge(), std::move(spec)));
  return *devices_.back();
}

TestDevice& BridgeTest::Connect(DeviceSpec spec) {
  TestDevice& device = NewDevice(std::move(spec));
  ConnectListed(device, bridge(), stub());
  return device;
}

EventStream& BridgeTest::Subscribe(SubscribeEventsRequest request) { return SubscribeOn(stub(), std::move(request)); }

EventStream& BridgeTest::SubscribeOn(Stub& stub, SubscribeEventsRequest request) {
  if (!request.has_resume_after()) {
    request.mutable_resume_after()->set_epoch(bridge().epoch());
    request.mutable_resume_after()->set_sequence(0);
  }
  streams_.push_back(std::make_unique<EventStream>(stub, std::move(request)));
  return *streams_.back();
}

EventStream& BridgeTest::SubscribeTo(const TestDevice& device) {
  SubscribeEventsRequest request;
  request.add_device_ids(device.device_id());
  return Subscribe(std::move(request));
}

void BridgeTest::ExpectAcked(const TestDevice& device) {
  CallResult call = SendRequest(stub(), RequestTo(device.device_id()));
  EXPECT_TRUE(call.status.ok()) << call << "\n" << Log();
  EXPECT_EQ(call.response.status(), hive::bridge::v1::REQUEST_STATUS_ACKED) << call;
}

}  // namespace hive::integration

// tests/integration/support/bridge_test.h
// The fixture integration tests build on: a running bridge, a stub on it, and
// helpers that connect devices and open event streams so that a test reads
// like the scenario it checks.
//
//   class RequestsTest : public BridgeTest {
//    protected:
//     static void SetUpTestSuite() { StartSuiteBridge({"--auth-timeout=500ms"}); }
//     static void TearDownTestSuite() { StopSuiteBridge(); }
//   };
//   TEST_F(RequestsTest, AckedRequestReportsAckLatency) {
//     TestDevice& device = Connect({.responder = Responder::Ack()});
//     CallResult call = SendRequest(stub(), RequestTo(device.device_id()));
//     ...
//   }
//
// A suite shares one bridge (SetUpTestSuite) where its tests cannot disturb
// each other, since every test uses devices and accounts of its own; a test
// that needs its own flags or kills the server calls StartOwnBridge(). Note
// that ctest runs every test in a process of its own, so there each test gets
// a fresh bridge anyway.
//
// Helpers that cannot go on (a device that does not connect) fail the test by
// throwing, which GoogleTest reports with the message and the bridge's log.
#pragma once

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/support/bridge_process.h"
#include "tests/integration/support/event_stream.h"
#include "tests/integration/support/grpc_calls.h"
#include "tests/integration/support/test_device.h"

namespace hive::integration {

// What Connect() and NewDevice() make. Empty ids are generated.
// (Every member has an initializer, so designated initializers may leave
// any of them out.)
struct DeviceSpec {
  std::string device_id{};
  std::string account_id{};
  AuthMode auth = AuthMode::kHeader;
  codec::Dialect dialect = codec::Dialect::kStandard;
  std::optional<Responder> responder{};
  // Unset: a valid token for the ids, minted with the bridge's secret.
  std::optional<std::string> token{};
  bool answer_pings = true;
};

// Stops the test with `why` (GoogleTest reports the exception).
[[noreturn]] void AbortTest(const std::string& why);

// A device of `bridge` with the spec's ids (generated when empty) and a valid
// token unless the spec brings one; not connected yet.
std::unique_ptr<TestDevice> MakeDevice(const BridgeProcess& bridge, DeviceSpec spec);
// Connects and authenticates `device`, then waits until `bridge` lists it
// (so requests find it); aborts the test when it cannot.
void ConnectListed(TestDevice& device, const BridgeProcess& bridge, Stub& stub);
// Polls GetDevice until the bridge lists `device_id` (bounded).
void AwaitListed(const std::string& device_id, const BridgeProcess& bridge, Stub& stub);

class BridgeTest : public ::testing::Test {
 protected:
  static void StartSuiteBridge(const std::vector<std::string>& flags = {});
  static void StopSuiteBridge();
  // The suite's bridge, for suite-wide devices and streams.
  static BridgeProcess& suite_bridge();
  static Stub& suite_stub();
  // A bridge for this test alone, used instead of the suite's.
  void StartOwnBridge(const std::vector<std::string>& flags = {}, ChildLimits limits = {});

  void TearDown() override;

  BridgeProcess& bridge();
  Stub& stub();

  // A device with the spec's ids and a valid token, not connected yet.
  TestDevice& NewDevice(DeviceSpec spec = {});
  // A device that has connected and authenticated, and that the bridge
  // already lists (so requests find it).
  TestDevice& Connect(DeviceSpec spec = {});
  void AwaitListed(const std::string& device_id) { integration::AwaitListed(device_id, bridge(), stub()); }

  // A SubscribeEvents stream. Without a resume point it resumes after
  // {epoch, 0}: it sees everything this bridge has published, so no event a
  // test causes can slip past it while the call is on its way.
  EventStream& Subscribe(SubscribeEventsRequest request = {});
  // The same, on a stub of its own.
  EventStream& SubscribeOn(Stub& stub, SubscribeEventsRequest request = {});
  // Everything about `device`, from the bridge's start.
  EventStream& SubscribeTo(const TestDevice& device);

  // Sends a request to `device` and expects REQUEST_STATUS_ACKED.
  void ExpectAcked(const TestDevice& device);

  // The bridge's log, for failure messages.
  std::string Log() { return bridge().Log(); }

 private:
  static std::unique_ptr<BridgeProcess>& SuiteBridge();
  static std::unique_ptr<Stub>& SuiteStub();

  std::unique_ptr<BridgeProcess> own_bridge_;
  std::unique_ptr<Stub> own_stub_;
  std::vector<std::unique_ptr<EventStream>> streams_;
  std::vector<std::unique_ptr<TestDevice>> devices_;
};

// A fresh lowercase UUID.
std::string NewId();

// Names each test of a table after its row's `name`:
//   INSTANTIATE_TEST_SUITE_P(Rows, SomeTest, ::testing::Values(...), RowName());
struct RowName {
  template <typename Row>
  std::string operator()(const ::testing::TestParamInfo<Row>& info) const {
    return info.param.name;
  }
};

// Names a test of one dialect "Standard" or "Compact".
std::string DialectName(const ::testing::TestParamInfo<codec::Dialect>& info);

// Prints a table row (any struct with a `name`) as its name in GoogleTest's
// messages. Test files bring it into their unnamed namespace, where argument-
// dependent lookup finds it: `using integration::operator<<;`.
template <typename Case>
auto operator<<(std::ostream& out, const Case& row) -> decltype(row.name, out) {
  return out << row.name;
}

}  // namespace hive::integration

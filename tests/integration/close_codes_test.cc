// The close codes of docs/protocol.md §8 as a backend sees them: every close
// the bridge starts reaches the device-disconnected event of a SubscribeEvents
// subscriber (and the bridge's log) with the code and reason the bridge sent,
// including the ones websocketpp sends itself and follows by dropping the TCP
// connection (1007, 1009; and 1008), where the device's answer is never read.
// A close the device starts shows the device's own code and reason.
#include <csignal>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/raw_connection.h"
#include "tests/integration/support/wait_until.h"

namespace hive::integration {
namespace {

using integration::operator<<;
using ::testing::HasSubstr;

constexpr absl::Duration kEventTimeout = absl::Seconds(10);
constexpr int kMaxBadFrames = 3;
constexpr size_t kMaxMessageBytes = 4096;

// The bridge's log line for the device's disconnect, or "" when there is none.
std::string DisconnectLogLine(const std::string& log, const std::string& device_id) {
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(line, "event=device_disconnected") && absl::StrContains(line, device_id)) {
      return std::string(line);
    }
  }
  return "";
}

class CloseCodesTest;

struct CloseCase {
  std::string name;
  // Flags of a bridge of the case's own; empty: the suite's bridge.
  std::vector<std::string> flags{};
  DeviceSpec spec{};
  // Makes the connection end; returns the device id whose disconnect counts.
  std::function<std::string(CloseCodesTest&, TestDevice&)> provoke;
  int code = 0;
  std::string reason{};
  std::string closed_by = "bridge";
};

class CloseCodesTest : public BridgeTest, public ::testing::WithParamInterface<CloseCase> {
 protected:
  static void SetUpTestSuite() {
    StartSuiteBridge(
        {absl::StrCat("--max-bad-frames=", kMaxBadFrames), absl::StrCat("--max-message-bytes=", kMaxMessageBytes)});
  }
  static void TearDownTestSuite() { StopSuiteBridge(); }

 public:
  // A device-disconnected event for `device_id` from a stream opened before
  // it connected, checked against the case.
  void ExpectDisconnected(EventStream& stream, const std::string& device_id) {
    const CloseCase& c = GetParam();
    std::optional<DeviceEvent> event = stream.NextMatching(FromDevice(device_id, "device-disconnected"), kEventTimeout);
    ASSERT_TRUE(event.has_value()) << Log();
    EXPECT_EQ(event->disconnected().close_code(), c.code) << event->ShortDebugString();
    EXPECT_THAT(event->disconnected().reason(), HasSubstr(c.reason)) << event->ShortDebugString();
    const std::string line = DisconnectLogLine(Log(), device_id);
    EXPECT_THAT(line, HasSubstr(absl::StrCat(" code=", c.code, " "))) << Log();
    EXPECT_THAT(line, HasSubstr(absl::StrCat(" closed_by=", c.closed_by))) << Log();
  }

  std::string MintToken(const std::string& device_id, const std::string& account_id) {
    return bridge().MintToken(device_id, account_id);
  }

  // Connects `device` again, which replaces its connection.
  void ConnectAgain(const TestDevice& device) {
    TestDevice& again = NewDevice({.device_id = device.device_id(), .account_id = device.account_id()});
    EXPECT_TRUE(again.ConnectAndAuthenticate().ok()) << Log();
  }

  // Opens a raw WebSocket for a fresh device, sends `frame` as one text
  // frame, and returns the device id.
  std::string SendRawText(const std::string& frame) {
    const std::string device_id = NewId();
    absl::StatusOr<RawConnection> ws =
        RawConnection::OpenWebSocket(bridge().ws_port(), bridge().MintToken(device_id, NewId()));
    if (!ws.ok()) AbortTest(absl::StrCat("raw WebSocket: ", ws.status().ToString(), "\n", Log()));
    EXPECT_TRUE(ws->SendFrame(kTextOpcode, frame).ok());
    std::optional<RawConnection::Frame> close = ws->NextFrameOfOpcode(kCloseOpcode, kEventTimeout);
    EXPECT_TRUE(close.has_value()) << "no close frame\n" << Log();
    if (close.has_value()) {
      EXPECT_EQ(close->close_code(), GetParam().code);
    }
    return device_id;
  }
};

TEST_P(CloseCodesTest, DeviceDisconnectedCarriesTheCodeAndReasonOfWhoClosedFirst) {
  const CloseCase& c = GetParam();
  if (!c.flags.empty()) StartOwnBridge(c.flags);
  // Everything from the bridge's start: nothing the case causes can slip past.
  EventStream& stream = Subscribe();
  TestDevice& device = Connect(c.spec);

  const std::string device_id = c.provoke(*this, device);

  ExpectDisconnected(stream, device_id);
}

std::string SameDevice(CloseCodesTest&, TestDevice& device) { return device.device_id(); }

INSTANTIATE_TEST_SUITE_P(
    Codes, CloseCodesTest,
    ::testing::Values(
        CloseCase{.name = "BinaryFrame1003",
                  .provoke =
                      [](CloseCodesTest& test, TestDevice& device) {
                        device.SendBinary("{}");
                        return SameDevice(test, device);
                      },
                  .code = 1003,
                  .reason = "binary frames are not supported"},
        CloseCase{.name = "InvalidUtf8_1007",
                  .provoke = [](CloseCodesTest& test,
                                TestDevice&) { return test.SendRawText("{\"type\":\"x\",\"text\":\"\xff\xfe\"}"); },
                  .code = 1007,
                  .reason = "Invalid UTF8"},
        CloseCase{.name = "BadFramesInARow1008",
                  .provoke =
                      [](CloseCodesTest& test, TestDevice& device) {
                        for (int i = 0; i < kMaxBadFrames; ++i) device.Send("not json");
                        return SameDevice(test, device);
                      },
                  .code = 1008,
                  .reason = absl::StrCat(kMaxBadFrames, " invalid frames in a row")},
        CloseCase{.name = "MessageTooBig1009",
                  .provoke =
                      [](CloseCodesTest& test, TestDevice& device) {
                        device.Send(absl::StrCat(R"({"type":"x","pad":")", std::string(kMaxMessageBytes, 'x'), "\"}"));
                        return SameDevice(test, device);
                      },
                  .code = 1009,
                  .reason = "too large"},
        CloseCase{.name = "RefreshForAnotherDevice4401",
                  .provoke =
                      [](CloseCodesTest& test, TestDevice& device) {
                        device.Send(absl::StrCat("Bearer ", test.MintToken(NewId(), device.account_id())));
                        return SameDevice(test, device);
                      },
                  .code = 4401,
                  .reason = "token refresh failed: the new token is for another device"},
        CloseCase{.name = "PongTimeout4408",
                  .flags = {"--ping-interval=500ms", "--pong-timeout=450ms"},
                  .spec = {.answer_pings = false},
                  .provoke = SameDevice,
                  .code = 4408,
                  .reason = "no pong"},
        CloseCase{.name = "Replaced4409",
                  .provoke =
                      [](CloseCodesTest& test, TestDevice& device) {
                        test.ConnectAgain(device);
                        return SameDevice(test, device);
                      },
                  .code = 4409,
                  .reason = "replaced by a newer connection"},
        CloseCase{.name = "Idle4410",
                  .flags = {"--idle-timeout=2s"},
                  .provoke = SameDevice,
                  .code = 4410,
                  .reason = "idle: nothing received for 2s"},
        CloseCase{.name = "EventFlood4429",
                  .flags = {"--device-event-rate=1", "--device-event-burst=1", "--max-bad-frames=2"},
                  .provoke =
                      [](CloseCodesTest& test, TestDevice& device) {
                        for (int i = 0; i < 3; ++i) device.Send(R"({"type":"device-state","state":"ok"})");
                        return SameDevice(test, device);
                      },
                  .code = 4429,
                  .reason = "over the event rate"},
        CloseCase{.name = "DeviceClosedWithABridgeCode",
                  .provoke =
                      [](CloseCodesTest& test, TestDevice& device) {
                        device.Close(1008, "the device's own reason");
                        return SameDevice(test, device);
                      },
                  .code = 1008,
                  .reason = "the device's own reason",
                  .closed_by = "device"},
        CloseCase{.name = "DeviceClosedNormally",
                  .provoke =
                      [](CloseCodesTest& test, TestDevice& device) {
                        device.Close(1000, "bye");
                        return SameDevice(test, device);
                      },
                  .code = 1000,
                  .reason = "bye",
                  .closed_by = "device"},
        CloseCase{.name = "TcpDropped1006",
                  .provoke =
                      [](CloseCodesTest& test, TestDevice& device) {
                        device.Abort();
                        return SameDevice(test, device);
                      },
                  .code = 1006,
                  .reason = "connection lost without a close frame",
                  .closed_by = "neither"}),
    RowName());

// Shutdown closes every device with 1001. The event hub closes before the
// devices do (subscribers get their stream's end first), so the bridge's log
// is where the close shows.
class ShutdownCloseCodeTest : public BridgeTest {};

TEST_F(ShutdownCloseCodeTest, DevicesAreClosedWith1001AndTheLogSaysTheBridgeClosed) {
  StartOwnBridge();
  TestDevice& device = Connect();

  bridge().Signal(SIGTERM);

  ASSERT_TRUE(device.WaitClosed(kEventTimeout)) << device.Transcript() << "\n" << Log();
  EXPECT_EQ(device.close_code(), 1001);
  ASSERT_TRUE(bridge().Wait(kHangBound).has_value()) << Log();
  const std::string line = DisconnectLogLine(Log(), device.device_id());
  EXPECT_THAT(line, HasSubstr(" code=1001 ")) << Log();
  EXPECT_THAT(line, HasSubstr("bridge is shutting down")) << Log();
  EXPECT_THAT(line, HasSubstr(" closed_by=bridge")) << Log();
}

}  // namespace
}  // namespace hive::integration

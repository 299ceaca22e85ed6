// Issue #9, one device floods its connection: batches of valid events far
// over the per-device event rate, each with a junk member, written as fast
// as the socket takes them. Per docs/SECURITY.md (--device-event-rate,
// --max-bad-frames) it is closed with 4429; all the
// while, other devices' requests and events keep flowing with nothing lost,
// and the bridge keeps answering gRPC (ListDevices).
#include <atomic>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "bridge/close_codes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_metrics.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/raw_connection.h"

namespace hive::integration {
namespace {

using ::testing::HasSubstr;

constexpr int kHealthyDevices = 3;
// The default burst (1000) is spent by the 8th frame.
constexpr int kEventsPerFloodFrame = 128;
// Refused frames in a row before the close: a flood of 200 frames of which
// all but the first seven carry events over the rate.
constexpr int kMaxBadFrames = 200;
// More than the bridge takes: the flood ends with the bridge's close.
constexpr int kMaxFloodFrames = 10 * kMaxBadFrames;
constexpr absl::Duration kTimeout = absl::Seconds(10);

// What the healthy devices did while the flood ran, counted on their thread.
struct HealthyTraffic {
  int rounds = 0;
  int acked = 0;
  int listed = 0;
  std::vector<std::string> failures;
  std::map<std::string, std::vector<std::string>> sent;  // device → markers, in order
};

class FloodTest : public BridgeTest {
 protected:
  // The default event rate and burst; a longer run of refused frames than
  // the default 10, so that the flood lasts.
  void SetUp() override { StartOwnBridge({absl::StrCat("--max-bad-frames=", kMaxBadFrames)}); }

  // One round per healthy device: an event, an acked request; then a
  // ListDevices. Rounds go on until `stop`, and at least once after it.
  HealthyTraffic RunHealthyTraffic(const std::vector<TestDevice*>& devices, absl::Notification& stop) {
    HealthyTraffic traffic;
    bool last_round = false;
    while (!last_round) {
      last_round = stop.HasBeenNotified();
      for (TestDevice* device : devices) {
        const std::string marker = absl::StrCat("healthy-", traffic.rounds, "-", device->device_id());
        device->Send(MarkedEvent("device-state", marker));
        traffic.sent[device->device_id()].push_back(marker);
        CallResult call = SendRequest(stub(), RequestTo(device->device_id()));
        if (call.status.ok() && call.response.status() == hive::bridge::v1::REQUEST_STATUS_ACKED) {
          ++traffic.acked;
        } else {
          std::ostringstream failure;
          failure << call;
          traffic.failures.push_back(failure.str());
        }
      }
      grpc::Status listed = ListDevices(stub());
      if (listed.ok()) {
        ++traffic.listed;
      } else {
        traffic.failures.push_back(absl::StrCat("ListDevices: ", listed.error_message()));
      }
      ++traffic.rounds;
    }
    return traffic;
  }
};

// A batch of valid events with a junk member (no type) at its end: every
// frame is refused in part, so the refused frames run on from the first, and
// the burst is spent within the first ten, so the run ends over the rate.
std::string FloodFrame(int n) {
  std::vector<std::string> items;
  for (int i = 0; i < kEventsPerFloodFrame; ++i) items.push_back(MarkedEvent("telemetry", absl::StrCat(n, "-", i)));
  items.push_back(absl::StrCat(R"({"cid":"junk-)", n, R"(","noise":"~~~"})"));
  return absl::StrCat("[", absl::StrJoin(items, ","), "]");
}

TEST_F(FloodTest, FloodingDeviceIsClosed4429WhileOthersLoseNothingAndGrpcAnswers) {
  std::vector<TestDevice*> healthy;
  SubscribeEventsRequest theirs;
  for (int i = 0; i < kHealthyDevices; ++i) {
    healthy.push_back(&Connect({.responder = Responder::Ack()}));
    theirs.add_device_ids(healthy.back()->device_id());
  }
  theirs.add_types("device-state");
  EventStream& watcher = Subscribe(theirs);
  const std::string flooder_id = NewId();
  absl::StatusOr<RawConnection> flooder =
      RawConnection::OpenWebSocket(bridge().ws_port(), bridge().MintToken(flooder_id, NewId()));
  ASSERT_TRUE(flooder.ok()) << flooder.status() << "\n" << Log();

  // The healthy traffic spans the whole flood: it starts first and stops
  // only once the flooder is cut off.
  absl::Notification flood_over;
  HealthyTraffic traffic;
  std::thread healthy_thread([&] { traffic = RunHealthyTraffic(healthy, flood_over); });
  // Whatever the bridge answered so far is read between frames (without
  // waiting), so that its close is not lost under unread replies.
  int flood_frames = 0;
  std::optional<RawConnection::Frame> close;
  const absl::Time flood_deadline = absl::Now() + kTimeout;
  while (!close.has_value() && flood_frames < kMaxFloodFrames && absl::Now() < flood_deadline &&
         flooder->SendFrame(kTextOpcode, FloodFrame(flood_frames)).ok()) {
    ++flood_frames;
    close = flooder->NextFrameOfOpcode(kCloseOpcode, absl::ZeroDuration());
  }
  if (!close.has_value()) close = flooder->NextFrameOfOpcode(kCloseOpcode, kTimeout);
  flood_over.Notify();
  healthy_thread.join();

  ASSERT_TRUE(close.has_value()) << "no close frame after " << flood_frames << " flood frames\n" << Log();
  EXPECT_EQ(close->close_code(), close_code::kRateLimited) << close->close_reason();
  EXPECT_THAT(close->close_reason(), HasSubstr("over the event rate"));
  EXPECT_EQ(MetricValue(bridge(), "hivebridge_limit_refusals_total{limit=\"device-event-rate-close\"}"), 1u);

  EXPECT_THAT(traffic.failures, ::testing::IsEmpty());
  EXPECT_GE(traffic.rounds, 2);
  EXPECT_EQ(traffic.acked, traffic.rounds * kHealthyDevices);
  EXPECT_EQ(traffic.listed, traffic.rounds);
  std::map<std::string, std::vector<std::string>> received;
  for (int i = 0; i < traffic.rounds * kHealthyDevices; ++i) {
    std::optional<DeviceEvent> event = watcher.Next(kTimeout);
    ASSERT_TRUE(event.has_value()) << "the subscriber got " << i << " healthy events\n" << Log();
    received[event->device_id()].push_back(MarkerOf(*event));
  }
  EXPECT_EQ(received, traffic.sent);
  for (TestDevice* device : healthy) EXPECT_TRUE(device->open()) << device->Transcript();
}

}  // namespace
}  // namespace hive::integration

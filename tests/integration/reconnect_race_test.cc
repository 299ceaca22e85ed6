// Issue #14, a device that keeps replacing its connection while a backend
// sends: "a retry with the same request_id never sends twice" must hold
// through both reconnect windows (docs/protocol.md#delivery-guarantee). A
// real bridge; one device id that opens a new connection as soon as the
// previous one is authenticated, again and again (each replaces the last,
// which the bridge closes with 4409); backend callers that send 2,000
// requests with fixed request ids and retry each with the same id while the
// bridge says it was certainly not written (UNAVAILABLE, or NOT_FOUND). The
// device acks every request on whichever connection it arrives. Every
// request id must reach the device at most once over all its connections,
// and every call must end definitely: ACKED, or ABORTED (written to a
// connection that closed before the ack: the device may have it).
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_metrics.h"
#include "tests/integration/support/bridge_test.h"

namespace hive::integration {
namespace {

constexpr int kRequests = 2000;
constexpr int kCallers = 8;
// A call is retried while the bridge says the request was certainly not
// written; bounds a livelock only.
constexpr int kMostAttempts = 200;
constexpr absl::Duration kCallDeadline = absl::Seconds(20);
// How long a connection waits for a request before it is replaced anyway: a
// bounded wait for traffic, so that connections change while requests flow
// and also when they do not.
constexpr absl::Duration kMostLifetime = absl::Milliseconds(5);
constexpr absl::Duration kCloseTimeout = absl::Seconds(10);

// Counts, over every connection of the device, the request frames per id.
class Receipts {
 public:
  void Add(const std::vector<std::string>& request_ids) {
    absl::MutexLock lock(&mu_);
    for (const std::string& id : request_ids) ++count_[id];
    ++connections_;
  }
  std::map<std::string, int> counts() const {
    absl::MutexLock lock(&mu_);
    return count_;
  }
  int connections() const {
    absl::MutexLock lock(&mu_);
    return connections_;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, int> count_ ABSL_GUARDED_BY(mu_);
  int connections_ ABSL_GUARDED_BY(mu_) = 0;
};

struct Ending {
  CallResult result;
  int attempts = 0;
};

class ReconnectRaceTest : public BridgeTest {
 protected:
  void SetUp() override { StartOwnBridge(); }
};

TEST_F(ReconnectRaceTest, NoRequestIdReachesTheDeviceTwiceWhileItsConnectionKeepsBeingReplaced) {
  const std::string device_id = NewId();
  const std::string account_id = NewId();
  const DeviceSpec spec{.device_id = device_id, .account_id = account_id, .responder = Responder::Ack()};
  Receipts receipts;
  std::atomic<bool> sending_done{false};
  std::atomic<int> reconnects{0};

  // The first connection, listed before any call is made.
  std::unique_ptr<TestDevice> current = MakeDevice(bridge(), spec);
  ConnectListed(*current, bridge(), stub());

  std::thread reconnector([&] {
    while (!sending_done.load()) {
      // Traffic or not, the connection is replaced soon (a bounded wait, not
      // a pacing sleep: a request arriving ends it early).
      current->NextOfType("device-request", kMostLifetime);
      std::unique_ptr<TestDevice> next = MakeDevice(bridge(), spec);
      absl::StatusOr<std::string> authenticated = next->ConnectAndAuthenticate();
      if (!authenticated.ok()) {
        ADD_FAILURE() << "reconnect " << reconnects.load() << ": " << authenticated.status();
        break;
      }
      ++reconnects;
      // The bridge closes the replaced connection; only then is every frame
      // it got known.
      if (!current->WaitClosed(kCloseTimeout)) ADD_FAILURE() << "a replaced connection stayed open";
      EXPECT_EQ(current->close_code(), 4409) << current->Transcript();
      receipts.Add(current->received_request_ids());
      current = std::move(next);
    }
  });

  std::vector<SendDeviceRequestRequest> requests;
  for (int i = 0; i < kRequests; ++i) {
    requests.push_back(RequestTo(device_id));
    requests.back().set_request_id(NewId());
  }
  std::vector<Ending> endings(kRequests);
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      for (int i = c; i < kRequests; i += kCallers) {
        Ending& ending = endings[i];
        do {
          ending.result = SendRequest(stub(), requests[i], kCallDeadline);
          ++ending.attempts;
        } while ((ending.result.status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                  ending.result.status.error_code() == grpc::StatusCode::NOT_FOUND) &&
                 ending.attempts < kMostAttempts);
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  sending_done = true;
  reconnector.join();
  current->Close(1000, "done");
  ASSERT_TRUE(current->WaitClosed(kCloseTimeout));
  receipts.Add(current->received_request_ids());

  const std::map<std::string, int> counts = receipts.counts();
  int acked = 0, aborted = 0, retried = 0;
  for (int i = 0; i < kRequests; ++i) {
    SCOPED_TRACE(absl::StrCat("request ", i, " (", requests[i].request_id(), ")"));
    const Ending& ending = endings[i];
    const auto received = counts.find(requests[i].request_id());
    const int times = received == counts.end() ? 0 : received->second;
    EXPECT_LE(times, 1) << "the device received it " << times << " times";
    retried += ending.attempts > 1 ? 1 : 0;
    if (ending.result.status.ok()) {
      ++acked;
      EXPECT_EQ(ending.result.response.status(), hive::bridge::v1::REQUEST_STATUS_ACKED) << ending.result;
      EXPECT_EQ(times, 1) << "acked, so received";
    } else {
      ++aborted;
      EXPECT_EQ(ending.result.status.error_code(), grpc::StatusCode::ABORTED)
          << ending.result << " after " << ending.attempts << " attempts";
    }
  }
  // Not bounds on the bridge (those would be timing assertions): what the
  // run exercised, for the record.
  std::cout << "requests " << kRequests << ": acked " << acked << ", aborted " << aborted << ", retried " << retried
            << "; connections " << receipts.connections() << "\n";
  EXPECT_GT(receipts.connections(), 1) << "the device never reconnected";
  EXPECT_EQ(MetricValue(bridge(), "hivebridge_requests_pending"), 0u) << Log();
  // Every id the callers chose is remembered (far below the budget), so a
  // later retry still finds its outcome.
  EXPECT_EQ(MetricValue(bridge(), "hivebridge_requests_remembered"), static_cast<uint64_t>(kRequests));
  EXPECT_GT(MetricValue(bridge(), "hivebridge_requests_remembered_bytes"), 0u);
  EXPECT_EQ(MetricValue(bridge(), "hivebridge_requests_forgotten_total{reason=\"budget\"}"), 0u);
}

}  // namespace
}  // namespace hive::integration

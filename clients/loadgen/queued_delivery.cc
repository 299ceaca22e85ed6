#include "clients/loadgen/queued_delivery.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bridge/uuid.h"
#include "clients/device_sim/device_roster.h"
#include "clients/device_sim/sim_stats.h"
#include "clients/device_sim/simulator_client.h"
#include "clients/loadgen/fleet_roster.h"
#include "clients/loadgen/grpc_channels.h"
#include "google/protobuf/duration.pb.h"
#include "grpcpp/client_context.h"
#include "hive/bridge/v1/device_bridge.grpc.pb.h"

namespace hive::loadgen {
namespace {

using hive::bridge::v1::DeviceBridge;
using hive::bridge::v1::SendDeviceRequestRequest;
using hive::bridge::v1::SendDeviceRequestResponse;

constexpr absl::Duration kConnectTimeout = absl::Seconds(10);
constexpr absl::Duration kPollEvery = absl::Milliseconds(5);
constexpr absl::Duration kCloseGrace = absl::Seconds(5);
// Long enough that no request expires while a slow machine delivers.
constexpr int64_t kQueueTtlSeconds = 3600;
constexpr int kStatusCodes = 17;

// What the queueing calls were answered, summed over the callers' threads.
struct QueueTally {
  std::atomic<uint64_t> queued{0};
  std::atomic<uint64_t> unexpected{0};
  std::array<std::atomic<uint64_t>, kStatusCodes> failed{};
};

// `concurrency` threads take the next request in turn until `total` are
// answered: blocking calls, because only the count and the span matter here.
void QueueAll(const LoadgenOptions& options, const std::vector<std::shared_ptr<grpc::Channel>>& channels,
              const sim::DeviceRoster& roster, uint64_t total, QueueTally& tally) {
  std::vector<std::unique_ptr<DeviceBridge::Stub>> stubs;
  stubs.reserve(channels.size());
  for (const auto& channel : channels) stubs.push_back(DeviceBridge::NewStub(channel));
  const SendDeviceRequestRequest seed = SeedRequest();
  std::atomic<uint64_t> next{0};
  std::vector<std::thread> callers;
  callers.reserve(static_cast<size_t>(options.concurrency));
  for (int lane = 0; lane < options.concurrency; ++lane) {
    callers.emplace_back([&, lane] {
      DeviceBridge::Stub& stub = *stubs[static_cast<size_t>(lane) % stubs.size()];
      for (uint64_t turn = next.fetch_add(1); turn < total; turn = next.fetch_add(1)) {
        SendDeviceRequestRequest request = seed;
        request.set_device_id(roster.entry(turn % roster.size()).device_id);
        request.set_request_id(NewUuid());
        request.mutable_queue_ttl()->set_seconds(kQueueTtlSeconds);
        SendDeviceRequestResponse response;
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(options.request_timeout));
        const grpc::Status status = stub.SendDeviceRequest(&context, request, &response);
        if (!status.ok()) {
          tally.failed[std::min(static_cast<int>(status.error_code()), kStatusCodes - 1)].fetch_add(1);
        } else if (response.status() == hive::bridge::v1::REQUEST_STATUS_QUEUED) {
          tally.queued.fetch_add(1);
        } else {
          tally.unexpected.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
}

// Polls `done` until it holds or `timeout` passes; the time it took.
template <typename Done>
absl::Duration WaitFor(absl::Time start, absl::Duration timeout, Done done) {
  const absl::Time give_up = start + timeout;
  while (!done() && absl::Now() < give_up) absl::SleepFor(kPollEvery);
  return absl::Now() - start;
}

double PerSecond(uint64_t count, absl::Duration span) {
  const double seconds = absl::ToDoubleSeconds(span);
  return seconds > 0 ? static_cast<double>(count) / seconds : 0;
}

}  // namespace

void QueuedDeliveryResult::AppendTo(JsonOut& out) const {
  uint64_t failed = 0;
  for (const auto& [code, count] : queue_errors) failed += count;
  out.Field("devices", devices)
      .Field("concurrency", concurrency)
      .Field("queued", queued)
      .Field("queue_error_count", failed);
  out.BeginObject("queue_errors");
  for (const auto& [code, count] : queue_errors) out.Field(code, count);
  out.EndObject()
      .Field("queue_s", absl::ToDoubleSeconds(queue_time))
      .Field("queued_per_s", PerSecond(queued, queue_time))
      .Field("connect_s", absl::ToDoubleSeconds(connect_time))
      .Field("delivered", delivered)
      .Field("delivery_s", absl::ToDoubleSeconds(delivery_time))
      .Field("delivered_per_s", PerSecond(delivered, delivery_time))
      .Field("live_rps", live.requests_per_second());
  out.BeginObject("live");
  live.AppendTo(out);
  out.EndObject();
}

absl::StatusOr<QueuedDeliveryResult> RunQueuedDelivery(const LoadgenOptions& options) {
  absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
      ConnectChannels(options.server, options.channels, kConnectTimeout);
  if (!channels.ok()) return channels.status();
  const sim::SimOptions fleet =
      FleetOptions(options.ws_urls.front(), options.jwt_secret_file, options.devices, options.device_seed);
  absl::StatusOr<sim::DeviceRoster> roster = FleetRoster(fleet);
  if (!roster.ok()) return roster.status();

  QueuedDeliveryResult result;
  result.devices = options.devices;
  result.concurrency = options.concurrency;
  QueueTally tally;
  const absl::Time queue_start = absl::Now();
  QueueAll(options, *channels, *roster, static_cast<uint64_t>(options.queued), tally);
  result.queue_time = absl::Now() - queue_start;
  result.queued = tally.queued.load();
  if (const uint64_t unexpected = tally.unexpected.load(); unexpected > 0) {
    result.queue_errors["UNEXPECTED_STATUS"] = unexpected;
  }
  for (int code = 0; code < kStatusCodes; ++code) {
    if (const uint64_t failed = tally.failed[code].load(); failed > 0)
      result.queue_errors[StatusCodeName(code)] = failed;
  }

  sim::SimStats stats;
  const absl::Time connect_start = absl::Now();
  absl::StatusOr<std::unique_ptr<sim::SimulatorClient>> client = sim::SimulatorClient::Start(fleet, *roster, stats);
  if (!client.ok()) return client.status();
  // Both waits run from the first connect: devices that connect early get
  // their requests while later ones still connect, as a fleet coming back would.
  result.connect_time = WaitFor(connect_start, options.connect_timeout,
                                [&] { return stats.Read().authenticated_devices >= options.devices; });
  result.delivery_time = WaitFor(connect_start, options.connect_timeout, [&] {
    return static_cast<uint64_t>(stats.Read().requests_received) >= result.queued;
  });
  result.delivered = static_cast<uint64_t>(stats.Read().requests_received);

  absl::StatusOr<RequestLoadResult> baseline = RunLiveBaseline(options, *roster);
  (*client)->Stop(kCloseGrace);
  if (!baseline.ok()) return baseline.status();
  result.live = *std::move(baseline);
  return result;
}

}  // namespace hive::loadgen

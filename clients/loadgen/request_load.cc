#include "clients/loadgen/request_load.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bridge/uuid.h"
#include "clients/loadgen/grpc_channels.h"
#include "clients/loadgen/process_usage.h"
#include "grpcpp/client_context.h"
#include "hive/bridge/v1/device_bridge.grpc.pb.h"

namespace hive::loadgen {
namespace {

using hive::bridge::v1::DeviceBridge;
using hive::bridge::v1::SendDeviceRequestRequest;
using hive::bridge::v1::SendDeviceRequestResponse;
using Clock = std::chrono::steady_clock;

constexpr absl::Duration kConnectTimeout = absl::Seconds(10);
constexpr int kStatusCodes = 17;

// What the driver has counted so far; two of these bracket the window.
struct Tally {
  uint64_t acked = 0;
  uint64_t unexpected = 0;
  std::array<uint64_t, kStatusCodes> failed{};
  LatencySnapshot latency;
  Clock::time_point at;
};

class RequestDriver {
 public:
  RequestDriver(const LoadgenOptions& options, const std::vector<std::shared_ptr<grpc::Channel>>& channels)
      : options_(options) {
    for (const auto& channel : channels) stubs_.push_back(DeviceBridge::NewStub(channel));
  }

  void Start() {
    for (int lane = 0; lane < options_.concurrency; ++lane) Issue(static_cast<size_t>(lane));
  }

  Tally Read() const {
    Tally tally;
    tally.at = Clock::now();
    tally.acked = acked_.load(std::memory_order_relaxed);
    tally.unexpected = unexpected_.load(std::memory_order_relaxed);
    for (int code = 0; code < kStatusCodes; ++code) tally.failed[code] = failed_[code].load(std::memory_order_relaxed);
    tally.latency = latencies_.Read();
    return tally;
  }

  // No new calls; waits for those in flight (their deadline bounds it).
  void Drain() {
    stopping_.store(true);
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* in_flight) { return *in_flight == 0; }, &in_flight_));
  }

 private:
  struct Call {
    grpc::ClientContext context;
    SendDeviceRequestRequest request;
    SendDeviceRequestResponse response;
    Clock::time_point started;
  };

  void Issue(size_t lane) {
    {
      absl::MutexLock lock(&mu_);
      ++in_flight_;
    }
    const uint64_t turn = next_device_.fetch_add(1, std::memory_order_relaxed);
    auto* call = new Call;
    call->request = seed_request_;
    call->request.set_device_id(options_.device_ids[turn % options_.device_ids.size()]);
    call->request.set_request_id(NewUuid());
    call->started = Clock::now();
    call->context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(options_.request_timeout));
    stubs_[lane % stubs_.size()]->async()->SendDeviceRequest(
        &call->context, &call->request, &call->response,
        [this, call, lane](const grpc::Status& status) { OnDone(call, lane, status); });
  }

  // On a gRPC callback thread: count, then start the lane's next call.
  void OnDone(Call* call, size_t lane, const grpc::Status& status) {
    latencies_.Record(absl::FromChrono(Clock::now() - call->started));
    if (!status.ok()) {
      failed_[std::min(static_cast<int>(status.error_code()), kStatusCodes - 1)].fetch_add(1,
                                                                                           std::memory_order_relaxed);
    } else if (call->response.status() == hive::bridge::v1::REQUEST_STATUS_ACKED) {
      acked_.fetch_add(1, std::memory_order_relaxed);
    } else {
      unexpected_.fetch_add(1, std::memory_order_relaxed);
    }
    delete call;
    if (!stopping_.load(std::memory_order_relaxed)) Issue(lane);
    absl::MutexLock lock(&mu_);
    --in_flight_;
  }

  const LoadgenOptions& options_;
  const SendDeviceRequestRequest seed_request_ = SeedRequest();
  std::vector<std::unique_ptr<DeviceBridge::Stub>> stubs_;
  std::atomic<uint64_t> next_device_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> acked_{0};
  std::atomic<uint64_t> unexpected_{0};
  std::array<std::atomic<uint64_t>, kStatusCodes> failed_{};
  LatencyHistogram latencies_;
  absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

// The server's CPU time (all its threads) now, when --server-pid names it.
absl::StatusOr<std::optional<absl::Duration>> ServerCpu(const LoadgenOptions& options) {
  if (options.server_pid <= 0) return std::optional<absl::Duration>();
  absl::StatusOr<absl::Duration> cpu = CpuTime(options.server_pid);
  if (!cpu.ok()) return cpu.status();
  return std::optional<absl::Duration>(*cpu);
}

}  // namespace

SendDeviceRequestRequest SeedRequest() {
  SendDeviceRequestRequest request;
  request.set_wait(hive::bridge::v1::WAIT_MODE_ACK);
  auto& action = *request.mutable_command()->mutable_scheduler_action();
  action.set_action(hive::bridge::v1::SchedulerAction::ACTION_STOP);
  action.set_account("8813b625-e219-4390-9a7b-fe0e22c9e50b");
  action.mutable_application()->set_appstore("Fractal App Store");
  action.mutable_application()->set_name("wikijs");
  action.mutable_application()->set_version("latest");
  action.set_encrypted_storage_apikeys(
      "DGJEKsFCYCkbzvlsmXivwvEZU5M0BRgROSjloYwF19w87b+Q1pE856jAHF9V4a5OYWo8GTvKIAiB32qlB+EpLp+uN8+qrhGAklAfa/"
      "CBoy2u8isbfiU4LD5kDupHzKbp2Tn2LnOAnuqc6Vi2Sia/LT+ehLkzo+CI4G2Z6uCNxGIEJGGR5xQAheBJQF55LhIAQejQuwbALA==");
  action.set_instance("ad51b914-688a-4a5f-a073-5c5121a010e2");
  auto& link = (*action.mutable_links())["default"];
  link.set_domain("");
  link.set_token("3336a31e-dfa0-4681-ae4e-5f8c466f7024");
  action.mutable_storage_apikeys();
  return request;
}

double RequestLoadResult::requests_per_second() const {
  const double seconds = absl::ToDoubleSeconds(window);
  return seconds > 0 ? static_cast<double>(acked) / seconds : 0;
}

void RequestLoadResult::AppendTo(JsonOut& out) const {
  uint64_t failed = 0;
  for (const auto& [code, count] : errors) failed += count;
  out.Field("concurrency", concurrency)
      .Field("devices", devices)
      .Field("window_s", absl::ToDoubleSeconds(window))
      .Field("requests", acked)
      .Field("rps", requests_per_second())
      .Field("error_count", failed);
  out.BeginObject("errors");
  for (const auto& [code, count] : errors) out.Field(code, count);
  out.EndObject().Latency("latency_us", latency);
  out.Field("total_acked", total_acked).Field("total_failed", total_failed);
  if (server_cpu) {
    // Per completed call, failures included: the server worked for those too.
    const double completed = static_cast<double>(std::max<uint64_t>(1, acked + failed));
    out.Field("server_pid", server_pid)
        .Field("server_cpu_s", absl::ToDoubleSeconds(*server_cpu))
        .Field("server_cpu_us_per_request", absl::ToDoubleMicroseconds(*server_cpu) / completed);
  }
}

absl::StatusOr<RequestLoadResult> RunRequestLoad(const LoadgenOptions& options) {
  absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
      ConnectChannels(options.server, options.channels, kConnectTimeout);
  if (!channels.ok()) return channels.status();
  RequestDriver driver(options, *std::move(channels));
  driver.Start();
  absl::SleepFor(options.warmup);
  // The server's CPU is read next to each tally, so that it brackets the
  // same window as the calls counted.
  const absl::StatusOr<std::optional<absl::Duration>> cpu_start = ServerCpu(options);
  const Tally start = driver.Read();
  absl::SleepFor(options.duration);
  const Tally end = driver.Read();
  const absl::StatusOr<std::optional<absl::Duration>> cpu_end = ServerCpu(options);
  driver.Drain();
  const Tally total = driver.Read();
  if (!cpu_start.ok()) return cpu_start.status();
  if (!cpu_end.ok()) return cpu_end.status();

  RequestLoadResult result;
  result.concurrency = options.concurrency;
  result.devices = static_cast<int>(options.device_ids.size());
  result.window = absl::FromChrono(end.at - start.at);
  result.acked = end.acked - start.acked;
  result.latency = end.latency - start.latency;
  if (const uint64_t unexpected = end.unexpected - start.unexpected; unexpected > 0) {
    result.errors["UNEXPECTED_STATUS"] = unexpected;
  }
  for (int code = 0; code < kStatusCodes; ++code) {
    if (const uint64_t failed = end.failed[code] - start.failed[code]; failed > 0) {
      result.errors[StatusCodeName(code)] = failed;
    }
  }
  if (*cpu_start && *cpu_end) {
    result.server_pid = options.server_pid;
    result.server_cpu = **cpu_end - **cpu_start;
  }
  result.total_acked = total.acked;
  result.total_failed = total.unexpected;
  for (uint64_t failed : total.failed) result.total_failed += failed;
  return result;
}

absl::StatusOr<RequestLoadResult> RunLiveBaseline(const LoadgenOptions& options, const sim::DeviceRoster& roster) {
  LoadgenOptions live = options;
  live.device_ids.clear();
  for (size_t i = 0; i < roster.size(); ++i) live.device_ids.push_back(roster.entry(i).device_id);
  return RunRequestLoad(live);
}

}  // namespace hive::loadgen

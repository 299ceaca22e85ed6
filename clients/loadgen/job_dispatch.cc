#include "clients/loadgen/job_dispatch.h"

#include <chrono>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/device_sim/derived_ids.h"
#include "clients/device_sim/device_roster.h"
#include "clients/device_sim/sim_stats.h"
#include "clients/device_sim/simulator_client.h"
#include "clients/loadgen/fleet_roster.h"
#include "clients/loadgen/grpc_channels.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/client_context.h"
#include "hive/bridge/v1/jobs.grpc.pb.h"

namespace hive::loadgen {
namespace {

using google::protobuf::util::TimeUtil;
using hive::bridge::v1::FleetJobs;
using hive::bridge::v1::Job;
using hive::bridge::v1::StartJobRequest;

constexpr absl::Duration kConnectTimeout = absl::Seconds(10);
constexpr absl::Duration kPollEvery = absl::Milliseconds(5);
constexpr absl::Duration kCloseGrace = absl::Seconds(5);
constexpr absl::Duration kCallTimeout = absl::Seconds(30);
// The devices are online, so no request waits in the queue; an hour only
// keeps a request from expiring on a machine that stalls.
constexpr int64_t kQueueTtlSeconds = 3600;
// StartJob accepts any finite rate above zero (server/job_spec.cc), and the
// runner lets a tenth of a second's worth through at once: at this rate the
// pace never holds a device back, and max_in_flight alone bounds the job.
constexpr double kUnboundedRate = std::numeric_limits<double>::max();

void SetDeadline(grpc::ClientContext& context, absl::Duration timeout) {
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout));
}

// The job over the roster's devices: the same command (and expected state)
// as every request of the baseline, acked.
StartJobRequest JobRequest(const LoadgenOptions& options, const sim::DeviceRoster& roster) {
  const hive::bridge::v1::SendDeviceRequestRequest seed = SeedRequest();
  StartJobRequest request;
  if (options.job_target == JobTarget::kDevices) {
    hive::bridge::v1::JobDeviceList& list = *request.mutable_target()->mutable_devices();
    for (size_t i = 0; i < roster.size(); ++i) list.add_device_ids(roster.entry(i).device_id);
  } else {
    hive::bridge::v1::DeviceSelector& selector = *request.mutable_target()->mutable_selector();
    selector.set_account_id(roster.entry(0).account_id);
    selector.set_presence(hive::bridge::v1::PRESENCE_ONLINE);
  }
  *request.mutable_command() = seed.command();
  if (seed.has_state()) *request.mutable_state() = seed.state();
  request.set_wait(hive::bridge::v1::WAIT_MODE_ACK);
  request.mutable_queue_ttl()->set_seconds(kQueueTtlSeconds);
  request.mutable_rollout()->set_max_rate(kUnboundedRate);
  request.mutable_rollout()->set_max_in_flight(options.concurrency);
  request.set_description("hive-loadgen --mode=job");
  return request;
}

absl::Status StatusOf(const grpc::Status& status, absl::string_view what) {
  return {static_cast<absl::StatusCode>(status.error_code()), absl::StrCat(what, ": ", status.error_message())};
}

// Reads the job's WatchJob stream until it ends (with the job's end) or
// `give_up` passes; the job as the last message left it.
absl::Status WatchToEnd(FleetJobs::Stub& jobs, const std::string& job_id, absl::Time give_up,
                        JobDispatchResult& result) {
  hive::bridge::v1::WatchJobRequest request;
  request.set_job_id(job_id);
  grpc::ClientContext context;
  SetDeadline(context, give_up - absl::Now());
  std::unique_ptr<grpc::ClientReader<hive::bridge::v1::WatchJobResponse>> reader = jobs.WatchJob(&context, request);
  hive::bridge::v1::WatchJobResponse change;
  while (reader->Read(&change)) {
    ++result.watch_messages;
    result.job = change.job();
  }
  const grpc::Status status = reader->Finish();
  result.ended = result.job.has_ended_at();
  if (status.ok() || status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) return absl::OkStatus();
  return StatusOf(status, "WatchJob");
}

// A job that outran --job-timeout is cancelled, so that the bridge stops
// sending; what it reached is reported as it stands.
absl::Status CancelJob(FleetJobs::Stub& jobs, const std::string& job_id, Job& job) {
  hive::bridge::v1::CancelJobRequest request;
  request.set_job_id(job_id);
  hive::bridge::v1::CancelJobResponse response;
  grpc::ClientContext context;
  SetDeadline(context, kCallTimeout);
  const grpc::Status status = jobs.CancelJob(&context, request, &response);
  if (!status.ok()) return StatusOf(status, "CancelJob");
  job = response.job();
  return absl::OkStatus();
}

double PerSecond(int64_t count, absl::Duration span) {
  const double seconds = absl::ToDoubleSeconds(span);
  return seconds > 0 ? static_cast<double>(count) / seconds : 0;
}

}  // namespace

int64_t JobDispatchResult::settled() const {
  const hive::bridge::v1::JobCounters& counters = job.counters();
  return counters.succeeded() + counters.failed() + counters.expired() + counters.skipped();
}

double JobDispatchResult::job_per_second() const { return PerSecond(settled(), job_time); }

void JobDispatchResult::AppendTo(JsonOut& out) const {
  const hive::bridge::v1::JobCounters& counters = job.counters();
  const double live_rps = live.requests_per_second();
  const absl::Duration server_time = job.has_ended_at()
                                         ? absl::Nanoseconds(TimeUtil::TimestampToNanoseconds(job.ended_at()) -
                                                             TimeUtil::TimestampToNanoseconds(job.created_at()))
                                         : absl::ZeroDuration();
  out.Field("devices", devices)
      .Field("concurrency", concurrency)
      .Field("max_rate", max_rate)
      .Field("job_target", target)
      .Field("connect_s", absl::ToDoubleSeconds(connect_time))
      .Field("start_s", absl::ToDoubleSeconds(start_time))
      .Field("job_s", absl::ToDoubleSeconds(job_time))
      .Field("job_per_s", job_per_second())
      .Field("job_server_s", absl::ToDoubleSeconds(server_time))
      .Field("ended", ended)
      .Field("job_state", hive::bridge::v1::JobState_Name(job.state()))
      .Field("end_reason", job.end_reason());
  out.BeginObject("counters")
      .Field("selected", counters.selected())
      .Field("pending", counters.pending())
      .Field("queued", counters.queued())
      .Field("in_flight", counters.in_flight())
      .Field("succeeded", counters.succeeded())
      .Field("failed", counters.failed())
      .Field("expired", counters.expired())
      .Field("skipped", counters.skipped())
      .EndObject()
      .Field("watch_messages", watch_messages)
      .Field("received", received)
      .Field("live_rps", live_rps)
      .Field("ratio", live_rps > 0 ? job_per_second() / live_rps : 0.0);
  out.BeginObject("live");
  live.AppendTo(out);
  out.EndObject();
}

absl::StatusOr<JobDispatchResult> RunJobDispatch(const LoadgenOptions& options) {
  absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
      ConnectChannels(options.server, 1, kConnectTimeout);
  if (!channels.ok()) return channels.status();
  std::unique_ptr<FleetJobs::Stub> jobs = FleetJobs::NewStub(channels->front());
  sim::SimOptions fleet =
      FleetOptions(options.ws_urls.front(), options.jwt_secret_file, options.devices, options.device_seed);
  // An account of this run's own: the selector names exactly these devices,
  // not those an earlier run on the same bridge left behind.
  fleet.account = sim::DerivedUuid(options.device_seed, "job-account", 0);
  absl::StatusOr<sim::DeviceRoster> roster = FleetRoster(fleet);
  if (!roster.ok()) return roster.status();

  JobDispatchResult result;
  result.devices = options.devices;
  result.concurrency = options.concurrency;
  result.max_rate = kUnboundedRate;
  result.target = options.job_target == JobTarget::kDevices ? "devices" : "selector";

  sim::SimStats stats;
  const absl::Time connect_start = absl::Now();
  absl::StatusOr<std::unique_ptr<sim::SimulatorClient>> client = sim::SimulatorClient::Start(fleet, *roster, stats);
  if (!client.ok()) return client.status();
  const absl::Time connect_give_up = connect_start + options.connect_timeout;
  while (stats.Read().authenticated_devices < options.devices && absl::Now() < connect_give_up) {
    absl::SleepFor(kPollEvery);
  }
  result.connect_time = absl::Now() - connect_start;
  if (const int64_t ready = stats.Read().authenticated_devices; ready < options.devices) {
    (*client)->Stop(kCloseGrace);
    return absl::UnavailableError(absl::StrCat("only ", ready, " of ", options.devices, " devices authenticated in ",
                                               absl::FormatDuration(options.connect_timeout)));
  }

  const absl::Time job_start = absl::Now();
  hive::bridge::v1::StartJobResponse started;
  grpc::ClientContext start_context;
  SetDeadline(start_context, kCallTimeout);
  const grpc::Status start_status = jobs->StartJob(&start_context, JobRequest(options, *roster), &started);
  result.start_time = absl::Now() - job_start;
  if (!start_status.ok()) {
    (*client)->Stop(kCloseGrace);
    return StatusOf(start_status, "StartJob");
  }
  result.job = started.job();
  const std::string& job_id = started.job().job_id();
  if (absl::Status watched = WatchToEnd(*jobs, job_id, job_start + options.job_timeout, result); !watched.ok()) {
    (*client)->Stop(kCloseGrace);
    return watched;
  }
  result.job_time = absl::Now() - job_start;
  if (!result.ended) {
    if (absl::Status cancelled = CancelJob(*jobs, job_id, result.job); !cancelled.ok()) {
      (*client)->Stop(kCloseGrace);
      return cancelled;
    }
  }
  result.received = static_cast<uint64_t>(stats.Read().requests_received);

  absl::StatusOr<RequestLoadResult> baseline = RunLiveBaseline(options, *roster);
  (*client)->Stop(kCloseGrace);
  if (!baseline.ok()) return baseline.status();
  result.live = *std::move(baseline);
  return result;
}

}  // namespace hive::loadgen

#include "server/request_metrics.h"

#include <string>

#include "google/protobuf/util/time_util.h"
#include "server/cached_series.h"
#include "server/request_labels.h"

namespace hive::server {
namespace {

using hive::bridge::v1::Command;
using hive::bridge::v1::RequestStatus;

// From 1 ms (a device on a LAN acks in a few) to 5 minutes (a long upgrade's result).
const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                                 0.5,   1,      2.5,   5,    10,    30,   60,  300};

double Seconds(const google::protobuf::Duration& duration) {
  return static_cast<double>(google::protobuf::util::TimeUtil::DurationToNanoseconds(duration)) / 1e9;
}

}  // namespace

RequestMetrics::RequestMetrics(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("hivebridge_device_requests_total")
                    .Help("SendDeviceRequest calls answered, by command kind and the status returned (gRPC errors "
                          "are in grpc_server_handled_total).")
                    .Register(registry)),
      ack_seconds_(prometheus::BuildHistogram()
                       .Name("hivebridge_device_request_ack_seconds")
                       .Help("Time from writing a request to the device until its ack, by command kind.")
                       .Register(registry)),
      result_seconds_(prometheus::BuildHistogram()
                          .Name("hivebridge_device_request_result_seconds")
                          .Help("Time from writing a request to the device until its result, by command kind and "
                                "outcome (succeeded or failed).")
                          .Register(registry)) {}

void RequestMetrics::Observe(const hive::bridge::v1::SendDeviceRequestRequest& request,
                             const hive::bridge::v1::SendDeviceRequestResponse& response) {
  const Command::KindCase kind = request.command().kind_case();
  const RequestStatus status = response.status();
  const auto k = static_cast<size_t>(kind);
  const auto s = static_cast<size_t>(status);
  if (k >= kKinds || s >= kStatuses) return;  // a kind or status newer than this code: not counted
  CachedSeries(request_series_[k][s], requests_, [&] {
    return prometheus::Labels{{"command", CommandKindName(kind)}, {"status", RequestStatusName(status)}};
  }).Increment();
  if (response.has_ack_latency()) {
    CachedSeries(
        ack_series_[k], ack_seconds_,
        [&] {
          return prometheus::Labels{{"command", CommandKindName(kind)}};
        },
        kLatencyBuckets)
        .Observe(Seconds(response.ack_latency()));
  }
  if (response.has_result_latency() &&
      (status == RequestStatus::REQUEST_STATUS_SUCCEEDED || status == RequestStatus::REQUEST_STATUS_FAILED)) {
    const bool succeeded = status == RequestStatus::REQUEST_STATUS_SUCCEEDED;
    CachedSeries(
        result_series_[k][succeeded ? 0 : 1], result_seconds_,
        [&] {
          return prometheus::Labels{{"command", CommandKindName(kind)},
                                    {"outcome", succeeded ? "succeeded" : "failed"}};
        },
        kLatencyBuckets)
        .Observe(Seconds(response.result_latency()));
  }
}

}  // namespace hive::server

#include "server/event_delivery_metrics.h"

#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"

namespace hive::server {
namespace {

// A subscriber on the same machine gets an event within a millisecond; a
// queue that backs up shows in the seconds.
const prometheus::Histogram::BucketBoundaries kDelayBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10};

}  // namespace

EventDeliveryMetrics::EventDeliveryMetrics(prometheus::Registry& registry)
    : delay_(prometheus::BuildHistogram()
                 .Name("hivebridge_event_delivery_delay_seconds")
                 .Help("Time from the bridge reading a device's event until a SubscribeEvents stream's write of it "
                       "completed.")
                 .Register(registry)
                 .Add({}, kDelayBuckets)) {}

void EventDeliveryMetrics::Delivered(const hive::bridge::v1::DeviceEvent& event) {
  if (!event.has_received_at()) return;
  const absl::Time received =
      absl::FromUnixNanos(google::protobuf::util::TimeUtil::TimestampToNanoseconds(event.received_at()));
  delay_.Observe(absl::ToDoubleSeconds(absl::Now() - received));
}

}  // namespace hive::server

// server/subscribe_events_call.h
// One SubscribeEvents stream: a hub subscription drained one write at a time.
// The hub wakes the reactor when an idle stream gets an event; a busy stream
// pulls the next event when its write completes. A slow reader therefore
// never slows anyone: its bounded queue in the hub drops and reports a Gap.
#pragma once

#include <atomic>

#include "absl/status/status.h"
#include "bridge/event_hub.h"
#include "grpcpp/grpcpp.h"
#include "hive/bridge/v1/device_bridge.pb.h"
#include "server/stream_write_reactor.h"  // kStreamAcceptedMetadata

namespace hive::server {

class EventDeliveryMetrics;

grpc::ServerWriteReactor<hive::bridge::v1::SubscribeEventsResponse>* StartSubscribeEvents(
    grpc::CallbackServerContext* context, const hive::bridge::v1::SubscribeEventsRequest* request, EventHub& hub,
    const std::atomic<bool>& draining, EventDeliveryMetrics* delivery = nullptr);

// Checks the filters' ids; INVALID_ARGUMENT naming the entry otherwise.
absl::Status ValidateSubscribeEvents(const hive::bridge::v1::SubscribeEventsRequest& request);

// A stream that ends at once with `why`.
grpc::ServerWriteReactor<hive::bridge::v1::SubscribeEventsResponse>* RejectSubscribeEvents(const absl::Status& why);

}  // namespace hive::server

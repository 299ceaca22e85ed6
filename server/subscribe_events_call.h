// server/subscribe_events_call.h
// One SubscribeEvents stream: a hub subscription drained one write at a time.
// The hub wakes the reactor when an idle stream gets an event; a busy stream
// pulls the next event when its write completes. A slow reader therefore
// never slows anyone: its bounded queue in the hub drops and reports a Gap.
//
// The method is registered raw (DeviceBridgeService): the request arrives
// as bytes (ParseSubscribeEventsRequest) and every response leaves as the
// hub's one serialization of its event (event_response_bytes.h), so an event
// fanned out to N subscribers is serialized once. On the wire nothing
// differs from the generated method.
#pragma once

#include <atomic>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bridge/event_hub.h"
#include "grpcpp/grpcpp.h"
#include "hive/bridge/v1/device_bridge.pb.h"
#include "server/stream_write_reactor.h"  // kStreamAcceptedMetadata

namespace hive::server {

class EventDeliveryMetrics;

// The request's bytes as a SubscribeEventsRequest, or INVALID_ARGUMENT.
absl::StatusOr<hive::bridge::v1::SubscribeEventsRequest> ParseSubscribeEventsRequest(const grpc::ByteBuffer& bytes);

grpc::ServerWriteReactor<grpc::ByteBuffer>* StartSubscribeEvents(
    grpc::CallbackServerContext* context, const hive::bridge::v1::SubscribeEventsRequest& request, EventHub& hub,
    const std::atomic<bool>& draining, EventDeliveryMetrics* delivery = nullptr);

// Checks the filters' ids; INVALID_ARGUMENT naming the entry otherwise.
absl::Status ValidateSubscribeEvents(const hive::bridge::v1::SubscribeEventsRequest& request);

// A stream that ends at once with `why`.
grpc::ServerWriteReactor<grpc::ByteBuffer>* RejectSubscribeEvents(const absl::Status& why);

}  // namespace hive::server

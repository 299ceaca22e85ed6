// server/event_response_bytes.h
// A SubscribeEventsResponse as bytes on the wire, built around the hub's one
// serialization of the event (PublishedEvent::wire) without copying it: the
// response's only field is the event, so its encoding is that field's tag and
// length followed by the event's own bytes. Every subscriber's response shares
// the event's bytes; only the few bytes of the header are its own.
//
//   grpc::ByteBuffer response = SubscribeEventsResponseBytes(published);
//   StartWrite(&response);  // SubscribeEvents is registered raw (ByteBuffer)
//
// The buffer keeps `event` alive until gRPC has sent it and let go of it.
#pragma once

#include <memory>

#include "bridge/published_event.h"
#include "grpcpp/support/byte_buffer.h"

namespace hive::server {

grpc::ByteBuffer SubscribeEventsResponseBytes(std::shared_ptr<const PublishedEvent> event);

}  // namespace hive::server

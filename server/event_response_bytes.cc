#include "server/event_response_bytes.h"

#include <cstdint>
#include <utility>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/support/slice.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive::server {
namespace {

using google::protobuf::internal::WireFormatLite;

// The longest varint a 32-bit length takes (7 bits a byte).
constexpr size_t kMaxVarint32Bytes = 5;

// The slice's owner: one reference to the event, dropped when gRPC frees the
// slice (on whichever thread finishes with it).
void ReleaseEvent(void* owner) { delete static_cast<std::shared_ptr<const PublishedEvent>*>(owner); }

}  // namespace

grpc::ByteBuffer SubscribeEventsResponseBytes(std::shared_ptr<const PublishedEvent> event) {
  const std::string& wire = event->wire();
  // Field `event` (length-delimited): its tag, then its length as a varint.
  uint8_t header[1 + kMaxVarint32Bytes];
  uint8_t* end = WireFormatLite::WriteTagToArray(hive::bridge::v1::SubscribeEventsResponse::kEventFieldNumber,
                                                 WireFormatLite::WIRETYPE_LENGTH_DELIMITED, header);
  end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(wire.size()), end);
  // The header is copied (small enough to live inside the slice itself); the
  // event's bytes are lent, with a reference that keeps them alive.
  auto* owner = new std::shared_ptr<const PublishedEvent>(std::move(event));
  grpc::Slice slices[] = {
      grpc::Slice(header, static_cast<size_t>(end - header)),
      grpc::Slice(const_cast<char*>(wire.data()), wire.size(), &ReleaseEvent, owner),
  };
  return grpc::ByteBuffer(slices, 2);
}

}  // namespace hive::server

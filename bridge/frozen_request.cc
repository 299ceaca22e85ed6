// bridge/frozen_request.cc
#include "bridge/frozen_request.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>

#include "absl/hash/hash.h"
#include "bridge/uuid.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/util/time_util.h"
#include "google/protobuf/wire_format_lite.h"

namespace hive {
namespace {

using hive::bridge::v1::SendDeviceRequestResponse;
using TimeUtil = google::protobuf::util::TimeUtil;

constexpr size_t kUuidBytes = 16;
uint8_t* PutVarint(uint64_t value, uint8_t* out) {
  return google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(value, out);
}

size_t VarintBytes(uint64_t value) { return google::protobuf::io::CodedOutputStream::VarintSize64(value); }

uint64_t ZigZag(int64_t value) { return google::protobuf::internal::WireFormatLite::ZigZagEncode64(value); }

// Whether the outcome holds anything beyond its id, status and times. Every
// field of SendDeviceRequestResponse must be named here or packed apart:
// FrozenRequest's round-trip test sets each field by reflection.
bool HasRest(const SendDeviceRequestResponse& outcome) {
  return outcome.has_result() || !outcome.result_exact_numbers().empty() || !outcome.error().empty() ||
         outcome.has_expires_at();
}

// The outcome without what the header keeps.
SendDeviceRequestResponse RestOf(const SendDeviceRequestResponse& outcome) {
  SendDeviceRequestResponse rest = outcome;
  rest.clear_request_id();
  rest.clear_status();
  rest.clear_sent_at();
  rest.clear_ack_latency();
  rest.clear_result_latency();
  return rest;
}

}  // namespace

struct FrozenRequest::Parts {
  int64_t sent_before_touch_ns = 0;
  int64_t ack_latency_ns = 0;
  int64_t result_latency_ns = 0;
  // The id's bytes: 16 when kUuidId.
  absl::string_view id;
  absl::string_view closed_how;
  absl::string_view rest;
  // Where the record ends.
  const uint8_t* end = nullptr;
};

FrozenRequest* FrozenRequest::Pack(const Facts& facts) {
  const SendDeviceRequestResponse& outcome = *facts.outcome;
  unsigned char uuid[kUuidBytes];
  const bool packed_uuid = PackCanonicalUuid(facts.request_id, uuid);
  const absl::string_view id =
      packed_uuid ? absl::string_view(reinterpret_cast<const char*>(uuid), kUuidBytes) : facts.request_id;
  const absl::string_view closed_how = facts.closed_how.substr(0, kMaxTextBytes);
  SendDeviceRequestResponse rest;
  if (HasRest(outcome)) rest = RestOf(outcome);
  const size_t rest_bytes = rest.ByteSizeLong();
  const int64_t touched_ns = absl::ToUnixNanos(facts.touched);

  uint8_t present = 0;
  size_t variable = id.size() + (packed_uuid ? 0 : VarintBytes(id.size()));
  uint64_t sent = 0, ack = 0, result = 0;
  if (outcome.has_sent_at()) {
    present |= kSentAt;
    sent = ZigZag(touched_ns - TimeUtil::TimestampToNanoseconds(outcome.sent_at()));
    variable += VarintBytes(sent);
  }
  if (outcome.has_ack_latency()) {
    present |= kAckLatency;
    ack = ZigZag(TimeUtil::DurationToNanoseconds(outcome.ack_latency()));
    variable += VarintBytes(ack);
  }
  if (outcome.has_result_latency()) {
    present |= kResultLatency;
    result = ZigZag(TimeUtil::DurationToNanoseconds(outcome.result_latency()));
    variable += VarintBytes(result);
  }
  if (!closed_how.empty()) {
    present |= kClosedHow;
    variable += VarintBytes(closed_how.size()) + closed_how.size();
  }
  if (rest_bytes > 0) {
    present |= kRest;
    variable += VarintBytes(rest_bytes) + rest_bytes;
  }

  // Never less than the object itself: constructing it writes the whole
  // header, padding included (an empty id leaves only one variable byte).
  const size_t size = std::max(offsetof(Header, present) + 1 + variable, sizeof(FrozenRequest));
  auto* frozen = new (::operator new(size)) FrozenRequest();
  Header& h = frozen->header_;
  h.idle_prev = h.idle_next = nullptr;
  h.touched_ns = touched_ns;
  h.digest = facts.digest;
  h.sender_or_connection = facts.connection != 0 ? facts.connection : facts.sender;
  h.origin = facts.origin;
  h.status = static_cast<uint8_t>(outcome.status());
  h.flags = static_cast<uint8_t>((facts.source & kSourceMask) | ((facts.watch << kWatchShift) & kWatchMask) |
                                 (facts.orphaned ? kOrphaned : 0) | (facts.connection != 0 ? kWritten : 0) |
                                 (packed_uuid ? kUuidId : 0));
  h.present = present;
  uint8_t* out = frozen->data();
  if ((present & kSentAt) != 0) out = PutVarint(sent, out);
  if ((present & kAckLatency) != 0) out = PutVarint(ack, out);
  if ((present & kResultLatency) != 0) out = PutVarint(result, out);
  if (!packed_uuid) out = PutVarint(id.size(), out);
  out = std::copy(id.begin(), id.end(), out);
  if ((present & kClosedHow) != 0) {
    out = PutVarint(closed_how.size(), out);
    out = std::copy(closed_how.begin(), closed_how.end(), out);
  }
  if ((present & kRest) != 0) {
    out = PutVarint(rest_bytes, out);
    rest.SerializeWithCachedSizesToArray(out);
  }
  return frozen;
}

void FrozenRequest::Destroy(FrozenRequest* frozen) {
  if (frozen == nullptr) return;
  frozen->~FrozenRequest();
  ::operator delete(frozen);
}

const uint8_t* FrozenRequest::data() const {
  return reinterpret_cast<const uint8_t*>(&header_) + offsetof(Header, present) + 1;
}
uint8_t* FrozenRequest::data() { return reinterpret_cast<uint8_t*>(&header_) + offsetof(Header, present) + 1; }

FrozenRequest::Parts FrozenRequest::Read() const {
  Parts parts;
  const uint8_t* begin = data();
  // Bounded by what Pack wrote: the record is read only as it was written.
  google::protobuf::io::CodedInputStream in(begin, std::numeric_limits<int>::max());
  uint64_t value = 0;
  const auto signed_varint = [&in, &value] {
    in.ReadVarint64(&value);
    return google::protobuf::internal::WireFormatLite::ZigZagDecode64(value);
  };
  const auto bytes = [&in, begin](size_t size) {
    const char* at = reinterpret_cast<const char*>(begin) + in.CurrentPosition();
    in.Skip(static_cast<int>(size));
    return absl::string_view(at, size);
  };
  if ((header_.present & kSentAt) != 0) parts.sent_before_touch_ns = signed_varint();
  if ((header_.present & kAckLatency) != 0) parts.ack_latency_ns = signed_varint();
  if ((header_.present & kResultLatency) != 0) parts.result_latency_ns = signed_varint();
  size_t id_size = kUuidBytes;
  if ((header_.flags & kUuidId) == 0) {
    in.ReadVarint64(&value);
    id_size = value;
  }
  parts.id = bytes(id_size);
  if ((header_.present & kClosedHow) != 0) {
    in.ReadVarint64(&value);
    parts.closed_how = bytes(value);
  }
  if ((header_.present & kRest) != 0) {
    in.ReadVarint64(&value);
    parts.rest = bytes(value);
  }
  parts.end = begin + in.CurrentPosition();
  return parts;
}

absl::string_view FrozenRequest::request_id(IdBuffer& buffer) const {
  const absl::string_view id = Read().id;
  if ((header_.flags & kUuidId) != 0) {
    SpellUuid(reinterpret_cast<const unsigned char*>(id.data()), buffer.data());
    return absl::string_view(buffer.data(), buffer.size());
  }
  return id;
}

std::string FrozenRequest::RequestId() const {
  IdBuffer buffer;
  return std::string(request_id(buffer));
}

absl::string_view FrozenRequest::closed_how() const { return Read().closed_how; }

void FrozenRequest::RestoreOutcome(SendDeviceRequestResponse& outcome) const {
  const Parts parts = Read();
  outcome.Clear();
  if (!parts.rest.empty()) outcome.ParseFromArray(parts.rest.data(), static_cast<int>(parts.rest.size()));
  IdBuffer buffer;
  outcome.set_request_id(std::string(request_id(buffer)));
  outcome.set_status(status());
  if ((header_.present & kSentAt) != 0) {
    *outcome.mutable_sent_at() = TimeUtil::NanosecondsToTimestamp(header_.touched_ns - parts.sent_before_touch_ns);
  }
  if ((header_.present & kAckLatency) != 0) {
    *outcome.mutable_ack_latency() = TimeUtil::NanosecondsToDuration(parts.ack_latency_ns);
  }
  if ((header_.present & kResultLatency) != 0) {
    *outcome.mutable_result_latency() = TimeUtil::NanosecondsToDuration(parts.result_latency_ns);
  }
}

size_t FrozenRequest::bytes() const { return static_cast<size_t>(Read().end - reinterpret_cast<const uint8_t*>(this)); }

size_t FrozenRequestById::operator()(absl::string_view request_id) const {
  return absl::Hash<absl::string_view>{}(request_id);
}

size_t FrozenRequestById::operator()(const FrozenRequest* frozen) const {
  FrozenRequest::IdBuffer buffer;
  return (*this)(frozen->request_id(buffer));
}

bool FrozenRequestById::operator()(const FrozenRequest* a, absl::string_view b) const {
  FrozenRequest::IdBuffer buffer;
  return a->request_id(buffer) == b;
}

}  // namespace hive

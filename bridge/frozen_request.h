// bridge/frozen_request.h
// A request the correlator remembers while nobody waits for it, packed into
// one allocation: the fixed facts as integers, then the request id, the close
// reason and whatever else the outcome holds, serialized. A request spends
// almost all of its remembered life like this (the 5-minute dedupe window
// against a call of milliseconds), so this is what memory per remembered
// request is (issue #18: at most 128 bytes; a round trip's request takes 96
// of glibc's heap here, and about 12 more in the index). The correlator
// unpacks it again (RequestCorrelator's Entry) when a retry, a late answer or
// a close changes it.
//
//   FrozenRequest* frozen = FrozenRequest::Pack(facts);
//   SendDeviceRequestResponse outcome;
//   frozen->RestoreOutcome(outcome);
//   FrozenRequest::Destroy(frozen);
//
// Canonical lowercase UUIDs (the bridge's own, and the canonical form the
// gRPC API gives every caller's) are kept as their 16 bytes; any other id as
// it is. Not thread-safe: the
// correlator's shard lock guards each one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bridge/request_origins.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive {

class FrozenRequest {
 public:
  // Everything the correlator keeps of a request besides its waiters.
  struct Facts {
    absl::string_view request_id;
    const RequestOrigin* origin = nullptr;
    uint64_t digest = 0;
    // RequestCorrelator's IdSource and Watch, as numbers.
    uint8_t source = 0;
    uint8_t watch = 0;
    // The waiter that sends it; only kept until it is written.
    uint64_t sender = 0;
    // The connection that wrote it; 0 until written.
    uint64_t connection = 0;
    bool orphaned = false;
    absl::string_view closed_how;
    const hive::bridge::v1::SendDeviceRequestResponse* outcome = nullptr;
    absl::Time touched;
  };

  // Room for an id kept as a UUID's 16 bytes, spelt out again.
  using IdBuffer = std::array<char, 36>;

  // The longest request id Pack keeps (RequestCorrelator refuses longer
  // ones); a longer close reason is cut to this length.
  static constexpr size_t kMaxTextBytes = 65'535;

  // One allocation holding `facts`; the origin's use passes to it.
  static FrozenRequest* Pack(const Facts& facts);
  static void Destroy(FrozenRequest* frozen);

  FrozenRequest(const FrozenRequest&) = delete;
  FrozenRequest& operator=(const FrozenRequest&) = delete;

  // The request id: a view into the record, or into `buffer` when it was
  // kept as 16 bytes.
  absl::string_view request_id(IdBuffer& buffer) const;
  std::string RequestId() const;
  const RequestOrigin* origin() const { return header_.origin; }
  uint64_t digest() const { return header_.digest; }
  uint8_t source() const { return header_.flags & kSourceMask; }
  uint8_t watch() const { return (header_.flags & kWatchMask) >> kWatchShift; }
  uint64_t sender() const { return written() ? 0 : header_.sender_or_connection; }
  uint64_t connection() const { return written() ? header_.sender_or_connection : 0; }
  bool orphaned() const { return (header_.flags & kOrphaned) != 0; }
  absl::string_view closed_how() const;
  hive::bridge::v1::RequestStatus status() const {
    return static_cast<hive::bridge::v1::RequestStatus>(header_.status);
  }
  absl::Time touched() const { return absl::FromUnixNanos(header_.touched_ns); }
  // The outcome as it was packed, request id included.
  void RestoreOutcome(hive::bridge::v1::SendDeviceRequestResponse& outcome) const;
  // The allocation's size.
  size_t bytes() const;

  // The correlator's list of idle requests, least recently touched first.
  FrozenRequest*& idle_prev() { return header_.idle_prev; }
  FrozenRequest*& idle_next() { return header_.idle_next; }

 private:
  // What the variable part holds, read (Read) when asked.
  struct Parts;

  // Plain data, so that the variable part may start right after its last
  // byte (offsetof) instead of after its padding. The outcome's times and
  // every length are varints in the variable part: a round trip's request
  // then packs into 81 bytes, which glibc and tcmalloc serve from a 96- and
  // an 80-byte block.
  struct Header {
    FrozenRequest* idle_prev;
    FrozenRequest* idle_next;
    int64_t touched_ns;
    uint64_t digest;
    uint64_t sender_or_connection;
    const RequestOrigin* origin;
    uint8_t status;
    uint8_t flags;
    uint8_t present;
  };
  // `flags`
  static constexpr uint8_t kSourceMask = 0x1;
  static constexpr uint8_t kWatchShift = 1;
  static constexpr uint8_t kWatchMask = 0x6;
  static constexpr uint8_t kOrphaned = 0x8;
  static constexpr uint8_t kWritten = 0x10;
  static constexpr uint8_t kUuidId = 0x20;
  // `present`: which optional parts follow, in this order. The id always
  // follows them (its length first unless kUuidId).
  static constexpr uint8_t kSentAt = 0x1;         // zigzag varint: touched - sent_at, ns
  static constexpr uint8_t kAckLatency = 0x2;     // zigzag varint, ns
  static constexpr uint8_t kResultLatency = 0x4;  // zigzag varint, ns
  static constexpr uint8_t kClosedHow = 0x8;      // varint length, bytes (after the id)
  static constexpr uint8_t kRest = 0x10;          // varint length, serialized outcome (last)

  FrozenRequest() = default;
  ~FrozenRequest() = default;

  bool written() const { return (header_.flags & kWritten) != 0; }
  const uint8_t* data() const;
  uint8_t* data();
  Parts Read() const;

  Header header_;
};

// The correlator's index of frozen requests, looked up by request id.
struct FrozenRequestById {
  using is_transparent = void;
  size_t operator()(absl::string_view request_id) const;
  size_t operator()(const FrozenRequest* frozen) const;
  bool operator()(const FrozenRequest* a, const FrozenRequest* b) const { return a == b; }
  bool operator()(const FrozenRequest* a, absl::string_view b) const;
  bool operator()(absl::string_view a, const FrozenRequest* b) const { return (*this)(b, a); }
};
using FrozenRequests = absl::flat_hash_set<FrozenRequest*, FrozenRequestById, FrozenRequestById>;

}  // namespace hive

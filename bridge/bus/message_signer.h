// bridge/bus/message_signer.h
// Signs and checks the messages replicas send each other through the broker
// (docs/SECURITY.md#the-message-broker), so that anyone else who may publish
// on the virtual host can neither forge nor alter one: HMAC-SHA256 under the
// cluster's shared key (--cluster-key-file) over a canonical byte string of
// everything a receiver acts on:
//   - the kind (rejected_messages.h), the exchange and the routing key, so a
//     signature does not move to another kind or another target (a request
//     for another device, an answer to another replica's reply queue);
//   - message_id, correlation_id, reply_to and content_type;
//   - every header, sorted by name, except the signature itself and the few
//     the broker stamps on delivery (x-stream-offset, x-death..., see
//     kBrokerHeaders in the .cc), so a header added later is signed without
//     a change here;
//   - the body.
// Each part is length-prefixed, so no two messages share a canonical string.
// The signature rides in header x-hive-sig (hex); x-hive-key-id (the first 8
// hex digits of SHA-256 of the key, itself signed) names the key.
//
// Rotation: a signer holds one or more keys (the key file has one per line).
// The first signs; a message signed by any of them is accepted, found by its
// key id. So the replicas move to a new key by rolling restarts without a
// moment in which two of them cannot talk: first every replica accepts the
// new key (old, new), then every replica signs with it (new, old).
//
// What it does not stop: a broker user can still drop, delay, reorder or
// replay a message that a replica signed (requests are deduplicated by
// request_id; the streams replay on purpose).
//
//   absl::StatusOr<std::unique_ptr<MessageSigner>> signer = MessageSigner::FromKeyFile(path);
//   (*signer)->Sign({ClusterMessageKind::kRequest, "hive.requests", device_id}, message);
//   std::optional<SignatureRejection> why = (*signer)->Verify({kind, exchange, routing_key}, delivered);
//
// Thread-safe: Sign and Verify only read the signer.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bridge/bus/amqp_connection.h"
#include "bridge/bus/rejected_messages.h"

struct evp_mac_ctx_st;

namespace hive {

inline constexpr absl::string_view kSignatureHeader = "x-hive-sig";
inline constexpr absl::string_view kKeyIdHeader = "x-hive-key-id";

// Where a message is published to, or came from (basic.deliver's exchange
// and routing key).
struct MessageAddress {
  ClusterMessageKind kind = ClusterMessageKind::kRequest;
  absl::string_view exchange;
  absl::string_view routing_key;
};

class MessageSigner {
 public:
  // A shorter key is refused: HMAC-SHA256's strength is the key's.
  static constexpr size_t kMinKeyBytes = 32;

  // The key as given; INVALID_ARGUMENT when shorter than kMinKeyBytes.
  static absl::StatusOr<std::unique_ptr<MessageSigner>> FromKey(absl::string_view key);
  // Signs with the first key, accepts each; INVALID_ARGUMENT when there is
  // none, one is too short, or two are the same.
  static absl::StatusOr<std::unique_ptr<MessageSigner>> FromKeys(const std::vector<std::string>& keys);
  // The keys in a file, one per line, whitespace around each trimmed and
  // blank lines skipped; errors name --cluster-key-file and the line.
  static absl::StatusOr<std::unique_ptr<MessageSigner>> FromKeyFile(const std::string& path);

  ~MessageSigner();
  MessageSigner(const MessageSigner&) = delete;
  MessageSigner& operator=(const MessageSigner&) = delete;

  // The first 8 hex digits of SHA-256 of the signing key (not secret).
  const std::string& key_id() const { return keys_.front().id; }
  // Every accepted key's id, the signing key's first.
  std::vector<std::string> accepted_key_ids() const;

  // Sets x-hive-key-id and x-hive-sig (replacing earlier ones: a message
  // published again is signed again).
  void Sign(const MessageAddress& address, AmqpMessage& message) const;

  // nullopt when `message` carries the id of one of our keys and that key's
  // signature over itself at `address`; otherwise why not.
  std::optional<SignatureRejection> Verify(const MessageAddress& address, const AmqpMessage& message) const;

 private:
  struct Key {
    // An HMAC context keyed once; each message works on a copy of it.
    evp_mac_ctx_st* keyed = nullptr;
    std::string id;
  };

  MessageSigner() = default;

  // HMAC-SHA256 under `key` of the canonical string of `message` at `address`.
  static std::string Mac(const Key& key, const MessageAddress& address, const AmqpMessage& message);

  // Never empty; the first signs.
  std::vector<Key> keys_;
};

}  // namespace hive

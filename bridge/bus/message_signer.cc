#include "bridge/bus/message_signer.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace hive {
namespace {

constexpr size_t kMacBytes = 32;
// Tells this canonical form from any later one.
constexpr absl::string_view kCanonicalVersion = "hive-cluster-message-v1";

// Headers the broker adds or rewrites on the way (stream offsets, dead
// lettering, quorum queues' delivery count): no publisher can sign them.
constexpr absl::string_view kBrokerHeaders[] = {
    "x-stream-offset",        "x-death",
    "x-first-death-exchange", "x-first-death-queue",
    "x-first-death-reason",   "x-last-death-exchange",
    "x-last-death-queue",     "x-last-death-reason",
    "x-delivery-count",
};

bool Unsigned(absl::string_view name) {
  return name == kSignatureHeader ||
         std::find(std::begin(kBrokerHeaders), std::end(kBrokerHeaders), name) != std::end(kBrokerHeaders);
}

// Feeds the canonical string into an HMAC context, each part prefixed by
// its length (8 bytes, big-endian).
class Canonical {
 public:
  explicit Canonical(EVP_MAC_CTX* ctx) : ctx_(ctx) {}

  void Part(absl::string_view bytes) {
    std::array<unsigned char, 8> length{};
    uint64_t size = bytes.size();
    for (size_t i = length.size(); i-- > 0; size >>= 8) length[i] = static_cast<unsigned char>(size & 0xff);
    EVP_MAC_update(ctx_, length.data(), length.size());
    EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  }

 private:
  EVP_MAC_CTX* ctx_;
};

std::string KeyIdOf(absl::string_view key) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_Digest(key.data(), key.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest.data()), 4));
}

std::string TextOf(const AmqpValue& value) {
  if (const int64_t* number = std::get_if<int64_t>(&value)) return absl::StrCat(*number);
  return std::get<std::string>(value);
}

}  // namespace

absl::StatusOr<std::unique_ptr<MessageSigner>> MessageSigner::FromKey(absl::string_view key) {
  return FromKeys({std::string(key)});
}

absl::StatusOr<std::unique_ptr<MessageSigner>> MessageSigner::FromKeys(const std::vector<std::string>& keys) {
  if (keys.empty()) return absl::InvalidArgumentError("no cluster key");
  std::unique_ptr<MessageSigner> signer(new MessageSigner());
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string& key = keys[i];
    // Which key, for the error: the file's lines are numbered by FromKeyFile.
    const std::string which = keys.size() == 1 ? "the cluster key" : absl::StrCat("cluster key ", i + 1);
    if (key.size() < kMinKeyBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(which, " has ", key.size(), " bytes; at least ", kMinKeyBytes, " are needed"));
    }
    const std::string id = KeyIdOf(key);
    for (const Key& earlier : signer->keys_) {
      if (earlier.id == id) return absl::InvalidArgumentError(absl::StrCat(which, " is given twice"));
    }
    EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (hmac == nullptr) return absl::InternalError("OpenSSL has no HMAC");
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(hmac);
    EVP_MAC_free(hmac);  // the context keeps its own reference
    if (ctx == nullptr) return absl::InternalError("cannot create an HMAC context");
    // Owned by the signer from here, so an error below frees it.
    signer->keys_.push_back({ctx, id});
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) != 1) {
      return absl::InternalError("cannot key HMAC-SHA256");
    }
  }
  return signer;
}

absl::StatusOr<std::unique_ptr<MessageSigner>> MessageSigner::FromKeyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("--cluster-key-file: cannot read ", path));
  std::ostringstream contents;
  contents << in.rdbuf();
  std::vector<std::string> keys;
  for (absl::string_view line : absl::StrSplit(contents.str(), '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty()) keys.emplace_back(line);
  }
  absl::StatusOr<std::unique_ptr<MessageSigner>> signer = FromKeys(keys);
  if (!signer.ok()) {
    return absl::Status(signer.status().code(),
                        absl::StrCat("--cluster-key-file: ", path, ": ", signer.status().message()));
  }
  return signer;
}

MessageSigner::~MessageSigner() {
  for (Key& key : keys_) EVP_MAC_CTX_free(key.keyed);
}

std::vector<std::string> MessageSigner::accepted_key_ids() const {
  std::vector<std::string> ids;
  ids.reserve(keys_.size());
  for (const Key& key : keys_) ids.push_back(key.id);
  return ids;
}

std::string MessageSigner::Mac(const Key& key, const MessageAddress& address, const AmqpMessage& message) {
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(key.keyed);
  // Out of memory: no MAC, which no signature matches (and which signs
  // nothing a receiver accepts).
  if (ctx == nullptr) return {};
  Canonical canonical(ctx);
  canonical.Part(kCanonicalVersion);
  canonical.Part(ClusterMessageKindName(address.kind));
  canonical.Part(address.exchange);
  canonical.Part(address.routing_key);
  canonical.Part(message.message_id);
  canonical.Part(message.correlation_id);
  canonical.Part(message.reply_to);
  canonical.Part(message.content_type);
  std::vector<const std::pair<std::string, AmqpValue>*> headers;
  for (const auto& header : message.headers) {
    if (!Unsigned(header.first)) headers.push_back(&header);
  }
  // By name; a name sent twice keeps its order, since a receiver reads the
  // first.
  std::stable_sort(headers.begin(), headers.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
  canonical.Part(absl::StrCat(headers.size()));
  for (const auto* header : headers) {
    canonical.Part(header->first);
    canonical.Part(std::holds_alternative<int64_t>(header->second) ? "i" : "s");
    canonical.Part(TextOf(header->second));
  }
  canonical.Part(message.body);
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  size_t length = 0;
  EVP_MAC_final(ctx, mac.data(), &length, mac.size());
  EVP_MAC_CTX_free(ctx);
  return std::string(reinterpret_cast<const char*>(mac.data()), length);
}

void MessageSigner::Sign(const MessageAddress& address, AmqpMessage& message) const {
  AmqpTable& headers = message.headers;
  headers.erase(std::remove_if(headers.begin(), headers.end(),
                               [](const auto& header) {
                                 return header.first == kSignatureHeader || header.first == kKeyIdHeader;
                               }),
                headers.end());
  const Key& signing = keys_.front();
  headers.emplace_back(std::string(kKeyIdHeader), signing.id);
  headers.emplace_back(std::string(kSignatureHeader), absl::BytesToHexString(Mac(signing, address, message)));
}

std::optional<SignatureRejection> MessageSigner::Verify(const MessageAddress& address,
                                                        const AmqpMessage& message) const {
  const AmqpValue* signature = FindAmqpValue(message.headers, kSignatureHeader);
  if (signature == nullptr) return SignatureRejection::kMissingSignature;
  const AmqpValue* key_id = FindAmqpValue(message.headers, kKeyIdHeader);
  const std::string* id = key_id == nullptr ? nullptr : std::get_if<std::string>(key_id);
  if (id == nullptr) return SignatureRejection::kUnknownKey;
  auto key = std::find_if(keys_.begin(), keys_.end(), [id](const Key& k) { return k.id == *id; });
  if (key == keys_.end()) return SignatureRejection::kUnknownKey;
  const std::string* hex = std::get_if<std::string>(signature);
  if (hex == nullptr || hex->size() != 2 * kMacBytes ||
      !std::all_of(hex->begin(), hex->end(), [](char c) { return absl::ascii_isxdigit(c); })) {
    return SignatureRejection::kBadSignature;
  }
  const std::string claimed = absl::HexStringToBytes(*hex);
  const std::string expected = Mac(*key, address, message);
  // Constant time: how much of a guess matched must not show in the timing.
  if (expected.size() != claimed.size() || CRYPTO_memcmp(expected.data(), claimed.data(), expected.size()) != 0) {
    return SignatureRejection::kBadSignature;
  }
  return std::nullopt;
}

}  // namespace hive

#include "bridge/codec/compact_keys.h"

#include <array>

#include "absl/container/flat_hash_map.h"

namespace hive::codec {
namespace {

using KeyPair = std::pair<absl::string_view, absl::string_view>;

// Standard key → compact code. Hivekit's own codes (typ, dat, cid, res) keep
// their meaning; the rest follow its three-letter style.
constexpr std::array<KeyPair, 40> kTable = {{
    // envelope
    {"account", "acc"},
    {"device", "dev"},
    {"service", "svc"},
    {"type", "typ"},
    {"request", "req"},
    {"command", "cmd"},
    {"payload", "dat"},
    {"state", "sta"},
    {"status", "sts"},
    {"result", "rsl"},
    {"error", "err"},
    {"cid", "cid"},
    {"res", "res"},
    // command payloads and the request's state object
    {"application", "app"},
    {"appstore", "sto"},
    {"name", "nam"},
    {"version", "ver"},
    {"encrypted_storage_apikeys", "esk"},
    {"instance", "ins"},
    {"links", "lnk"},
    {"domain", "dom"},
    {"token", "tok"},
    {"storage_apikeys", "sak"},
    {"arguments", "arg"},
    {"force", "frc"},
    {"app_instance_id", "aii"},
    {"device_id", "did"},
    // event bodies
    {"instances", "iss"},
    {"health", "hlt"},
    {"message", "msg"},
    {"disk_free_bytes", "dfb"},
    {"disk_total_bytes", "dtb"},
    {"address", "adr"},
    {"protocol", "pro"},
    {"close_code", "ccd"},
    {"reason", "rsn"},
    {"missed", "mis"},
    {"request_id", "rqi"},
    {"job_id", "job"},
    {"wave", "wav"},
}};

struct Index {
  absl::flat_hash_map<absl::string_view, absl::string_view> to_compact;
  absl::flat_hash_map<absl::string_view, absl::string_view> to_standard;
};

const Index& TheIndex() {
  static const Index* const index = [] {
    auto* built = new Index;
    for (const auto& [standard, compact] : kTable) {
      built->to_compact.emplace(standard, compact);
      built->to_standard.emplace(compact, standard);
    }
    return built;
  }();
  return *index;
}

}  // namespace

absl::Span<const KeyPair> CompactKeyTable() { return kTable; }

absl::string_view CompactKey(absl::string_view standard_key) {
  const auto& map = TheIndex().to_compact;
  auto it = map.find(standard_key);
  return it == map.end() ? standard_key : it->second;
}

absl::string_view StandardKey(absl::string_view compact_key) {
  const auto& map = TheIndex().to_standard;
  auto it = map.find(compact_key);
  return it == map.end() ? absl::string_view() : it->second;
}

}  // namespace hive::codec

// bridge/request_origins.cc
#include "bridge/request_origins.h"

#include <utility>

#include "absl/hash/hash.h"

namespace hive {

RequestOrigins::Shard& RequestOrigins::ShardFor(absl::string_view device_id) {
  const size_t hash = absl::Hash<absl::string_view>{}(device_id);
  return shards_[hash >> (sizeof(size_t) * 8 - kShardBits)];
}

const RequestOrigin* RequestOrigins::Acquire(absl::string_view device_id, absl::string_view account_id) {
  Shard& shard = ShardFor(device_id);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.held.find(Key(device_id, account_id));
  if (it == shard.held.end()) {
    auto held = std::make_unique<Held>();
    held->origin = RequestOrigin{std::string(device_id), std::string(account_id)};
    const Key key(held->origin.device_id, held->origin.account_id);
    it = shard.held.emplace(key, std::move(held)).first;
  }
  ++it->second->uses;
  return &it->second->origin;
}

void RequestOrigins::Release(const RequestOrigin* origin) {
  Shard& shard = ShardFor(origin->device_id);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.held.find(Key(origin->device_id, origin->account_id));
  if (it != shard.held.end() && --it->second->uses == 0) shard.held.erase(it);
}

size_t RequestOrigins::size() const {
  size_t total = 0;
  for (const Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    total += shard.held.size();
  }
  return total;
}

}  // namespace hive

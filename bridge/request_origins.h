// bridge/request_origins.h
// Who a remembered request is for, interned: the correlator remembers
// hundreds of thousands of requests of a few thousand devices, and each of
// them pointing at one shared (device id, account id) pair instead of
// holding both strings keeps a remembered request small (issue #18: at most
// 128 bytes).
//
//   const RequestOrigin* origin = origins.Acquire(device_id, account_id);
//   ... origin->device_id ...
//   origins.Release(origin);  // once per Acquire; the last frees the pair
//
// Thread-safe: the pairs live in shards by device id, each with its own
// mutex, so requests of different devices rarely meet on one lock.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/optimization.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace hive {

struct RequestOrigin {
  std::string device_id;
  // Empty when the request was registered without one.
  std::string account_id;
};

class RequestOrigins {
 public:
  RequestOrigins() = default;
  RequestOrigins(const RequestOrigins&) = delete;
  RequestOrigins& operator=(const RequestOrigins&) = delete;

  // The shared pair for `device_id` and `account_id`, made on first use. It
  // stays valid, at the same address, until every Acquire of it is released.
  const RequestOrigin* Acquire(absl::string_view device_id, absl::string_view account_id);
  void Release(const RequestOrigin* origin);

  // Distinct pairs held, for tests.
  size_t size() const;

 private:
  struct Held {
    RequestOrigin origin;
    size_t uses = 0;
  };
  // Views into the held pair's own strings, so that a lookup copies nothing.
  using Key = std::pair<absl::string_view, absl::string_view>;

  struct alignas(ABSL_CACHELINE_SIZE) Shard {
    mutable absl::Mutex mu;
    // Owned through pointers: the pairs must not move while requests point
    // at them.
    absl::flat_hash_map<Key, std::unique_ptr<Held>> held ABSL_GUARDED_BY(mu);
  };

  static constexpr size_t kShardBits = 4;
  Shard& ShardFor(absl::string_view device_id);

  std::array<Shard, size_t{1} << kShardBits> shards_;
};

}  // namespace hive

// bridge/twin/twin_store.h
// The fleet's memory: one twin (twin.h) per device ever seen, built from the
// event hub's stream. The hub calls OnEvent for every event, in sequence
// order, under its lock (event_observer.h); in cluster mode every replica's
// hub gets every event of the fleet, so every replica's store is the same
// fleet-wide view.
//
//   TwinStore twins({.types = TwinTypes::WithExtra(flag), .max_twins = n, .max_bytes = b});
//   EventHub::Options hub_options; hub_options.observer = &twins;
//   std::optional<Twin> twin = twins.Get(device_id);
//   TwinStore::Page page = twins.PageAfter("", 100, [](const Twin& t) { return t.version == "1.2"; });
//
// Twins are ordered by device id, so a listing pages stably by "the last id
// of the previous page". Limits: over max_twins twins or max_bytes bytes
// (Twin::bytes), the twin of the device disconnected longest is forgotten,
// until within both; a twin whose last lifecycle event is device-connected
// (or that has seen none yet) is never forgotten, so the limits may be
// exceeded while every twin is of such a device.
//
// With track_changes (--state-dir), every change marks its device dirty for
// the persister (twin_persister.h), which takes them with TakeChanges.
//
// Thread-safe: one mutex, held for one event's update or for one bounded page
// of a listing (PageAfter scans at most kMaxScan twins per call).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "bridge/event_observer.h"
#include "bridge/twin/twin.h"
#include "bridge/twin/twin_types.h"

namespace hive {

class TwinStore final : public EventObserver {
 public:
  struct Options {
    TwinTypes types;
    size_t max_twins = 1'000'000;
    size_t max_bytes = size_t{256} << 20;
    // Local mode: the replica a device-connected event means (this one).
    // Empty in cluster mode, where the event does not say.
    std::string replica;
    // Whether changes are tracked for a persister.
    bool track_changes = false;
  };

  // What the store holds, for /metrics.
  struct Stats {
    size_t twins = 0;
    size_t bytes = 0;
    uint64_t forgotten_max_twins = 0;
    uint64_t forgotten_max_bytes = 0;
  };

  // One bounded step of a listing.
  struct Page {
    std::vector<Twin> twins;
    // Where the next step starts: the last id scanned.
    std::string last_scanned;
    // No twin after `last_scanned`.
    bool end = true;
  };

  // What changed since the last TakeChanges: every twin changed, as it
  // stands now, and every device forgotten; all events up to `sequence` (of
  // `epoch`) are in them.
  struct Changes {
    std::vector<Twin> upserts;
    std::vector<std::string> removed;
    std::string epoch;
    uint64_t sequence = 0;
  };

  // How many twins one PageAfter call looks at, at most: the hub's
  // publishers wait for the lock meanwhile.
  static constexpr size_t kMaxScan = 1024;

  explicit TwinStore(Options options);
  TwinStore(const TwinStore&) = delete;
  TwinStore& operator=(const TwinStore&) = delete;

  void OnEvent(const std::shared_ptr<const hive::bridge::v1::DeviceEvent>& event, size_t bytes) override;

  // At start, before serving: the twins the persister loaded, within the
  // limits. With `close_connected` (one bridge, no cluster: whatever was
  // connected to it was cut off when it stopped), a twin still connected by
  // its events is marked disconnected with close code 1006 at its last known
  // time (last_alive_at, or connected_at).
  void Load(std::vector<Twin> twins, bool close_connected);

  std::optional<Twin> Get(const std::string& device_id) const;

  // Up to `limit` twins with ids after `after` (all when empty) that `keep`
  // accepts, in id order, scanning at most kMaxScan. `keep` runs under the
  // lock: it must be quick and must not call into the store.
  Page PageAfter(const std::string& after, size_t limit, const std::function<bool(const Twin&)>& keep) const;

  const TwinTypes& types() const { return options_.types; }

  // The sequence of the last event applied (or ignored as irrelevant).
  uint64_t applied_sequence() const;

  Stats stats() const;

  // For the persister: what changed since the last call. Empty unless
  // track_changes.
  Changes TakeChanges();

  // For the persister when a write failed: these devices are dirty again.
  void Remark(const Changes& changes);

 private:
  using OfflineKey = std::pair<int64_t, std::string>;  // disconnected_at (ns), device id

  static OfflineKey KeyOf(const Twin& twin);
  void ApplyLocked(const hive::bridge::v1::DeviceEvent& event,
                   const std::shared_ptr<const hive::bridge::v1::DeviceEvent>& frozen, size_t bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void InsertLocked(Twin twin) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets the longest-offline twins until within both limits.
  void EnforceLimitsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MarkDirtyLocked(const std::string& device_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;

  mutable absl::Mutex mu_;
  absl::btree_map<std::string, Twin> twins_ ABSL_GUARDED_BY(mu_);
  // The disconnected twins, longest offline first: who is forgotten first.
  absl::btree_set<OfflineKey> offline_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t forgotten_max_twins_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t forgotten_max_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::string applied_epoch_ ABSL_GUARDED_BY(mu_);
  uint64_t applied_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_set<std::string> dirty_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hive

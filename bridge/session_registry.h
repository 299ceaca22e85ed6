// bridge/session_registry.h
// Which device is connected where: device id → its live DeviceLink, one per
// device. Thread-safe and sharded, so looking up a device for a request never
// contends with devices connecting elsewhere. Callers waiting for an offline
// device to connect (SendDeviceRequest's connect_timeout) are parked here and
// woken by Register, or by ExpireDue once their deadline passes; they are
// bounded (LimitWaiters, --max-connect-waiters), and kept in deadline order,
// so ExpireDue, which runs every few milliseconds, touches only the waiters
// that are due, however many wait. It also
// counts each account's devices, so that RegisterWithin can hold an account
// to its share of the bridge (--max-connections-per-account).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/clock.h"
#include "bridge/device_link.h"
#include "bridge/limit_counters.h"
#include "bridge/presence_observer.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive {

class SessionRegistry {
 public:
  // Receives the link once the device connects, or null at the deadline.
  using ConnectWaiter = absl::AnyInvocable<void(std::shared_ptr<DeviceLink>) &&>;
  // Names a parked waiter, for StopWaiting; unique within its device's shard.
  using WaiterId = uint64_t;

  explicit SessionRegistry(const Clock& clock) : clock_(clock) {}

  // Tells `observer` of every Register and Unregister from now on, after
  // those added before; add them before devices connect. Each must outlive
  // the registry's use.
  void Observe(PresenceObserver* observer) { observers_.push_back(observer); }

  // At most `max_waiters` callers wait in AwaitConnect at once (0: no
  // limit); a refusal is counted in `counters` (may be null) as
  // Limit::kMaxConnectWaiters. Set once, before callers wait.
  void LimitWaiters(size_t max_waiters, LimitCounters* counters) {
    max_waiters_ = max_waiters;
    counters_ = counters;
  }

  // Makes `link` the device's live link; returns the link it replaces, if
  // any, for the caller to close. Wakes every waiter for the device.
  std::shared_ptr<DeviceLink> Register(const std::shared_ptr<DeviceLink>& link);

  // As Register, unless the link's account already has `max_per_account`
  // devices registered: then RESOURCE_EXHAUSTED, naming the account and the
  // limit, and nothing changes. A device replacing its own link takes no
  // further place. 0 means no limit.
  absl::StatusOr<std::shared_ptr<DeviceLink>> RegisterWithin(const std::shared_ptr<DeviceLink>& link,
                                                             size_t max_per_account);

  // Removes the device's link if it is still `link` (a replaced link's late
  // goodbye must not remove its successor). True if it was removed.
  bool Unregister(const std::string& device_id, const DeviceLink* link);

  std::shared_ptr<DeviceLink> Find(const std::string& device_id) const;

  // Calls `waiter` with the device's link now if connected, else when it
  // connects, or with null at `deadline`. RESOURCE_EXHAUSTED naming
  // --max-connect-waiters, and `waiter` is never called, when the limit's
  // number of callers already wait. When the waiter is parked (not called at
  // once), `*parked` (if given) names it for StopWaiting; else it is 0.
  absl::Status AwaitConnect(const std::string& device_id, absl::Time deadline, ConnectWaiter waiter,
                            WaiterId* parked = nullptr);

  // As AwaitConnect, but ignores a link the device has now: `waiter` gets the
  // link the device connects with next, or null at `deadline`. (A caller not
  // allowed to see the device's current link waits on as if it were absent.)
  absl::Status AwaitNextConnect(const std::string& device_id, absl::Time deadline, ConnectWaiter waiter,
                                WaiterId* parked = nullptr);

  // The caller of parked waiter `id` gave up: forgets it without calling it
  // and gives its place back. Nothing if it has been woken already.
  void StopWaiting(const std::string& device_id, WaiterId id);

  // Gives null to waiters past their deadline. Touches only those.
  void ExpireDue();

  // Callers waiting in AwaitConnect.
  size_t waiter_count() const { return waiter_count_.load(std::memory_order_relaxed); }

  // Shutdown: gives null to every waiter now, and to every AwaitConnect from
  // now on, so no call waits for a device that can no longer connect.
  void CloseWaiters();

  // Connected devices ordered by id, after `after_device_id`, at most
  // `limit`, only of `account_id` when non-empty.
  std::vector<hive::bridge::v1::Device> List(const std::string& account_id, const std::string& after_device_id,
                                             size_t limit) const;

  size_t size() const;
  // Devices registered for `account_id`.
  size_t account_size(const std::string& account_id) const;

 private:
  struct Waiter {
    std::string device_id;
    absl::Time deadline;
    ConnectWaiter done;
  };
  struct Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<std::string, std::shared_ptr<DeviceLink>> links ABSL_GUARDED_BY(mu);
    // Each waiter is in all three: by id, by device (for Register) and by
    // deadline (for ExpireDue), and leaves all three when woken.
    absl::flat_hash_map<WaiterId, Waiter> waiters ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<std::string, absl::flat_hash_set<WaiterId>> waiting_for ABSL_GUARDED_BY(mu);
    std::set<std::pair<absl::Time, WaiterId>> deadlines ABSL_GUARDED_BY(mu);
    WaiterId next_waiter ABSL_GUARDED_BY(mu) = 1;
    bool waiters_closed ABSL_GUARDED_BY(mu) = false;
  };
  static constexpr size_t kShards = 16;

  Shard& ShardFor(const std::string& device_id) const;
  absl::Status Await(const std::string& device_id, absl::Time deadline, ConnectWaiter waiter, bool take_current,
                     WaiterId* parked);
  // Removes waiter `id` from the shard's device index.
  static void Unindex(Shard& shard, const std::string& device_id, WaiterId id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // Takes a place among the waiters, or refuses with RESOURCE_EXHAUSTED.
  absl::Status ReserveWaiter();
  // Removes waiter `id` from the shard (its deadline and device indexes
  // too); returns its callback.
  static ConnectWaiter TakeWaiter(Shard& shard, WaiterId id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // Moves one place from the account of `old` (null: none) to `account_id`
  // unless that would exceed `max_per_account` (0: no limit).
  absl::Status MoveAccountPlace(const DeviceLink* old, const std::string& account_id, size_t max_per_account);
  void ReleaseAccountPlace(const std::string& account_id);

  const Clock& clock_;
  std::vector<PresenceObserver*> observers_;
  size_t max_waiters_ = 0;
  LimitCounters* counters_ = nullptr;
  std::atomic<size_t> waiter_count_{0};
  mutable std::array<Shard, kShards> shards_;
  // Taken inside a shard's lock, never the other way round. Only connects and
  // disconnects take it, never a lookup.
  mutable absl::Mutex accounts_mu_;
  absl::flat_hash_map<std::string, size_t> devices_per_account_ ABSL_GUARDED_BY(accounts_mu_);
};

}  // namespace hive

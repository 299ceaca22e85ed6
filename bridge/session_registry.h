// bridge/session_registry.h
// Which device is connected where: device id → its live DeviceLink, one per
// device. Thread-safe and sharded, so looking up a device for a request never
// contends with devices connecting elsewhere. Callers waiting for an offline
// device to connect (SendDeviceRequest's connect_timeout) are parked here and
// woken by Register, or by ExpireDue once their deadline passes. It also
// counts each account's devices, so that RegisterWithin can hold an account
// to its share of the bridge (--max-connections-per-account).
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/clock.h"
#include "bridge/device_link.h"
#include "bridge/presence_observer.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive {

class SessionRegistry {
 public:
  // Receives the link once the device connects, or null at the deadline.
  using ConnectWaiter = absl::AnyInvocable<void(std::shared_ptr<DeviceLink>) &&>;

  explicit SessionRegistry(const Clock& clock) : clock_(clock) {}

  // Tells `observer` of every Register and Unregister from now on; set once,
  // before devices connect. It must outlive the registry's use.
  void Observe(PresenceObserver* observer) { observer_ = observer; }

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
  // connects, or with null at `deadline`.
  void AwaitConnect(const std::string& device_id, absl::Time deadline, ConnectWaiter waiter);

  // Gives null to waiters past their deadline.
  void ExpireDue();

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
    absl::Time deadline;
    ConnectWaiter done;
  };
  struct Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<std::string, std::shared_ptr<DeviceLink>> links ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<std::string, std::vector<Waiter>> waiters ABSL_GUARDED_BY(mu);
    bool waiters_closed ABSL_GUARDED_BY(mu) = false;
  };
  static constexpr size_t kShards = 16;

  Shard& ShardFor(const std::string& device_id) const;
  // Moves one place from the account of `old` (null: none) to `account_id`
  // unless that would exceed `max_per_account` (0: no limit).
  absl::Status MoveAccountPlace(const DeviceLink* old, const std::string& account_id, size_t max_per_account);
  void ReleaseAccountPlace(const std::string& account_id);

  const Clock& clock_;
  PresenceObserver* observer_ = nullptr;
  mutable std::array<Shard, kShards> shards_;
  // Taken inside a shard's lock, never the other way round. Only connects and
  // disconnects take it, never a lookup.
  mutable absl::Mutex accounts_mu_;
  absl::flat_hash_map<std::string, size_t> devices_per_account_ ABSL_GUARDED_BY(accounts_mu_);
};

}  // namespace hive

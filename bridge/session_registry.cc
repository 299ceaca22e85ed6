#include "bridge/session_registry.h"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"

namespace hive {

SessionRegistry::Shard& SessionRegistry::ShardFor(const std::string& device_id) const {
  return shards_[absl::Hash<std::string>()(device_id) % kShards];
}

std::shared_ptr<DeviceLink> SessionRegistry::Register(const std::shared_ptr<DeviceLink>& link) {
  return *RegisterWithin(link, 0);
}

absl::StatusOr<std::shared_ptr<DeviceLink>> SessionRegistry::RegisterWithin(const std::shared_ptr<DeviceLink>& link,
                                                                            size_t max_per_account) {
  const std::string device_id = link->device_id();
  Shard& shard = ShardFor(device_id);
  std::shared_ptr<DeviceLink> replaced;
  std::vector<ConnectWaiter> woken;
  {
    absl::MutexLock lock(&shard.mu);
    auto existing = shard.links.find(device_id);
    const DeviceLink* old = existing == shard.links.end() ? nullptr : existing->second.get();
    if (absl::Status room = MoveAccountPlace(old, link->account_id(), max_per_account); !room.ok()) return room;
    std::shared_ptr<DeviceLink>& slot = shard.links[device_id];
    replaced = std::exchange(slot, link);
    for (PresenceObserver* observer : observers_) observer->OnRegistered(*link);
    if (auto it = shard.waiting_for.find(device_id); it != shard.waiting_for.end()) {
      // Moved out first: TakeWaiter would otherwise edit the set being walked.
      const absl::flat_hash_set<WaiterId> ids = std::move(it->second);
      shard.waiting_for.erase(it);
      woken.reserve(ids.size());
      for (WaiterId id : ids) woken.push_back(TakeWaiter(shard, id));
    }
  }
  waiter_count_.fetch_sub(woken.size(), std::memory_order_relaxed);
  for (ConnectWaiter& waiter : woken) std::move(waiter)(link);
  return replaced;
}

absl::Status SessionRegistry::MoveAccountPlace(const DeviceLink* old, const std::string& account_id,
                                               size_t max_per_account) {
  if (old != nullptr && old->account_id() == account_id) return absl::OkStatus();
  absl::MutexLock lock(&accounts_mu_);
  size_t& count = devices_per_account_[account_id];
  if (max_per_account > 0 && count >= max_per_account) {
    return absl::ResourceExhaustedError(absl::StrCat("account ", account_id, " already has ", count,
                                                     " devices connected (--max-connections-per-account)"));
  }
  ++count;
  if (old != nullptr) {
    auto previous = devices_per_account_.find(old->account_id());
    if (previous != devices_per_account_.end() && --previous->second == 0) devices_per_account_.erase(previous);
  }
  return absl::OkStatus();
}

void SessionRegistry::ReleaseAccountPlace(const std::string& account_id) {
  absl::MutexLock lock(&accounts_mu_);
  auto it = devices_per_account_.find(account_id);
  if (it != devices_per_account_.end() && --it->second == 0) devices_per_account_.erase(it);
}

bool SessionRegistry::Unregister(const std::string& device_id, const DeviceLink* link) {
  Shard& shard = ShardFor(device_id);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.links.find(device_id);
  if (it == shard.links.end() || it->second.get() != link) return false;
  for (PresenceObserver* observer : observers_) observer->OnUnregistered(*link);
  ReleaseAccountPlace(link->account_id());
  shard.links.erase(it);
  return true;
}

std::shared_ptr<DeviceLink> SessionRegistry::Find(const std::string& device_id) const {
  Shard& shard = ShardFor(device_id);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.links.find(device_id);
  return it == shard.links.end() ? nullptr : it->second;
}

absl::Status SessionRegistry::AwaitConnect(const std::string& device_id, absl::Time deadline, ConnectWaiter waiter,
                                           WaiterId* parked) {
  return Await(device_id, deadline, std::move(waiter), /*take_current=*/true, parked);
}

absl::Status SessionRegistry::AwaitNextConnect(const std::string& device_id, absl::Time deadline, ConnectWaiter waiter,
                                               WaiterId* parked) {
  return Await(device_id, deadline, std::move(waiter), /*take_current=*/false, parked);
}

void SessionRegistry::StopWaiting(const std::string& device_id, WaiterId id) {
  Shard& shard = ShardFor(device_id);
  ConnectWaiter dropped;  // destroyed outside the lock
  {
    absl::MutexLock lock(&shard.mu);
    auto it = shard.waiters.find(id);
    if (it == shard.waiters.end()) return;
    dropped = TakeWaiter(shard, id);
  }
  waiter_count_.fetch_sub(1, std::memory_order_relaxed);
}

void SessionRegistry::Unindex(Shard& shard, const std::string& device_id, WaiterId id) {
  auto waiting = shard.waiting_for.find(device_id);
  if (waiting == shard.waiting_for.end()) return;
  waiting->second.erase(id);
  if (waiting->second.empty()) shard.waiting_for.erase(waiting);
}

absl::Status SessionRegistry::ReserveWaiter() {
  // Taking the place first and giving it back when over keeps the bound
  // exact while shards add waiters concurrently.
  if (waiter_count_.fetch_add(1, std::memory_order_relaxed) < max_waiters_ || max_waiters_ == 0) {
    return absl::OkStatus();
  }
  waiter_count_.fetch_sub(1, std::memory_order_relaxed);
  CountIn(counters_, Limit::kMaxConnectWaiters);
  return absl::ResourceExhaustedError(absl::StrCat("the bridge already has ", max_waiters_,
                                                   " calls waiting for devices to connect (--max-connect-waiters)"));
}

absl::Status SessionRegistry::Await(const std::string& device_id, absl::Time deadline, ConnectWaiter waiter,
                                    bool take_current, WaiterId* parked) {
  if (parked != nullptr) *parked = 0;
  Shard& shard = ShardFor(device_id);
  std::shared_ptr<DeviceLink> link;
  {
    absl::MutexLock lock(&shard.mu);
    auto current = shard.links.find(device_id);
    if (take_current && current != shard.links.end()) {
      link = current->second;
    } else if (!shard.waiters_closed && deadline > clock_.Now()) {
      if (absl::Status room = ReserveWaiter(); !room.ok()) return room;
      const WaiterId id = shard.next_waiter++;
      shard.waiters.emplace(id, Waiter{device_id, deadline, std::move(waiter)});
      shard.waiting_for[device_id].insert(id);
      shard.deadlines.emplace(deadline, id);
      if (parked != nullptr) *parked = id;
      return absl::OkStatus();
    }
  }
  std::move(waiter)(std::move(link));
  return absl::OkStatus();
}

SessionRegistry::ConnectWaiter SessionRegistry::TakeWaiter(Shard& shard, WaiterId id) {
  auto it = shard.waiters.find(id);
  ConnectWaiter done = std::move(it->second.done);
  Unindex(shard, it->second.device_id, id);
  shard.deadlines.erase({it->second.deadline, id});
  shard.waiters.erase(it);
  return done;
}

void SessionRegistry::ExpireDue() {
  const absl::Time now = clock_.Now();
  for (Shard& shard : shards_) {
    std::vector<ConnectWaiter> expired;
    {
      absl::MutexLock lock(&shard.mu);
      while (!shard.deadlines.empty() && shard.deadlines.begin()->first <= now) {
        const WaiterId id = shard.deadlines.begin()->second;
        expired.push_back(TakeWaiter(shard, id));
      }
    }
    waiter_count_.fetch_sub(expired.size(), std::memory_order_relaxed);
    for (ConnectWaiter& waiter : expired) std::move(waiter)(nullptr);
  }
}

void SessionRegistry::CloseWaiters() {
  for (Shard& shard : shards_) {
    std::vector<ConnectWaiter> closed;
    {
      absl::MutexLock lock(&shard.mu);
      shard.waiters_closed = true;
      for (auto& [id, waiter] : shard.waiters) closed.push_back(std::move(waiter.done));
      shard.waiters.clear();
      shard.waiting_for.clear();
      shard.deadlines.clear();
    }
    waiter_count_.fetch_sub(closed.size(), std::memory_order_relaxed);
    for (ConnectWaiter& waiter : closed) std::move(waiter)(nullptr);
  }
}

std::vector<hive::bridge::v1::Device> SessionRegistry::List(const std::string& account_id,
                                                            const std::string& after_device_id, size_t limit) const {
  std::vector<std::shared_ptr<DeviceLink>> matching;
  for (Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    for (const auto& [device_id, link] : shard.links) {
      if (device_id <= after_device_id) continue;
      if (!account_id.empty() && link->account_id() != account_id) continue;
      matching.push_back(link);
    }
  }
  const size_t count = std::min(limit, matching.size());
  std::partial_sort(matching.begin(), matching.begin() + static_cast<std::ptrdiff_t>(count), matching.end(),
                    [](const auto& a, const auto& b) { return a->device_id() < b->device_id(); });
  std::vector<hive::bridge::v1::Device> page;
  page.reserve(count);
  for (size_t i = 0; i < count; ++i) page.push_back(matching[i]->Describe());
  return page;
}

size_t SessionRegistry::size() const {
  size_t total = 0;
  for (Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    total += shard.links.size();
  }
  return total;
}

size_t SessionRegistry::account_size(const std::string& account_id) const {
  absl::MutexLock lock(&accounts_mu_);
  auto it = devices_per_account_.find(account_id);
  return it == devices_per_account_.end() ? 0 : it->second;
}

}  // namespace hive

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
  std::vector<Waiter> woken;
  {
    absl::MutexLock lock(&shard.mu);
    auto existing = shard.links.find(device_id);
    const DeviceLink* old = existing == shard.links.end() ? nullptr : existing->second.get();
    if (absl::Status room = MoveAccountPlace(old, link->account_id(), max_per_account); !room.ok()) return room;
    std::shared_ptr<DeviceLink>& slot = shard.links[device_id];
    replaced = std::exchange(slot, link);
    if (observer_ != nullptr) observer_->OnRegistered(*link);
    if (auto it = shard.waiters.find(device_id); it != shard.waiters.end()) {
      woken = std::move(it->second);
      shard.waiters.erase(it);
    }
  }
  for (Waiter& waiter : woken) std::move(waiter.done)(link);
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
  if (observer_ != nullptr) observer_->OnUnregistered(*link);
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

void SessionRegistry::AwaitConnect(const std::string& device_id, absl::Time deadline, ConnectWaiter waiter) {
  Shard& shard = ShardFor(device_id);
  std::shared_ptr<DeviceLink> link;
  {
    absl::MutexLock lock(&shard.mu);
    if (auto it = shard.links.find(device_id); it != shard.links.end()) {
      link = it->second;
    } else if (!shard.waiters_closed && deadline > clock_.Now()) {
      shard.waiters[device_id].push_back({deadline, std::move(waiter)});
      return;
    }
  }
  std::move(waiter)(std::move(link));
}

void SessionRegistry::ExpireDue() {
  const absl::Time now = clock_.Now();
  for (Shard& shard : shards_) {
    std::vector<Waiter> expired;
    {
      absl::MutexLock lock(&shard.mu);
      for (auto it = shard.waiters.begin(); it != shard.waiters.end();) {
        std::vector<Waiter>& waiters = it->second;
        auto due = std::stable_partition(waiters.begin(), waiters.end(),
                                         [now](const Waiter& waiter) { return waiter.deadline > now; });
        std::move(due, waiters.end(), std::back_inserter(expired));
        waiters.erase(due, waiters.end());
        if (waiters.empty()) {
          shard.waiters.erase(it++);
        } else {
          ++it;
        }
      }
    }
    for (Waiter& waiter : expired) std::move(waiter.done)(nullptr);
  }
}

void SessionRegistry::CloseWaiters() {
  for (Shard& shard : shards_) {
    std::vector<Waiter> closed;
    {
      absl::MutexLock lock(&shard.mu);
      shard.waiters_closed = true;
      for (auto& [device_id, waiters] : shard.waiters) {
        std::move(waiters.begin(), waiters.end(), std::back_inserter(closed));
      }
      shard.waiters.clear();
    }
    for (Waiter& waiter : closed) std::move(waiter.done)(nullptr);
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

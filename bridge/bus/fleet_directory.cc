#include "bridge/bus/fleet_directory.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace hive {
namespace {

// A device as its replica announced it. It only describes: requests for it
// are routed through the bus, never sent on this link.
class AnnouncedDevice final : public DeviceLink {
 public:
  explicit AnnouncedDevice(Device device) : device_(std::move(device)) {}

  const std::string& device_id() const override { return device_.device_id(); }
  const std::string& account_id() const override { return device_.account_id(); }
  codec::Dialect dialect() const override {
    return codec::DialectOfSubprotocol(device_.protocol()).value_or(codec::Dialect::kStandard);
  }
  Device Describe() const override { return device_; }
  absl::Status SendRequest(std::string, std::string, RequestCorrelator::WaiterId) override {
    return absl::FailedPreconditionError(absl::StrCat("device is held by replica ", device_.replica()));
  }
  void Close(int, std::string) override {}

  const std::string& replica() const { return device_.replica(); }

 private:
  const Device device_;
};

const std::string& HolderOf(const DeviceLink& link) { return static_cast<const AnnouncedDevice&>(link).replica(); }

}  // namespace

void FleetDirectory::Connected(const Device& device) {
  std::shared_ptr<DeviceLink> replaced = devices_.Register(std::make_shared<AnnouncedDevice>(device));
  absl::MutexLock lock(&mu_);
  if (replaced != nullptr && HolderOf(*replaced) != device.replica()) {
    if (auto it = replicas_.find(HolderOf(*replaced)); it != replicas_.end())
      it->second.devices.erase(device.device_id());
  }
  Replica& holder = replicas_[device.replica()];
  holder.devices.insert(device.device_id());
  holder.last_heard = clock_.Now();
}

void FleetDirectory::Disconnected(const std::string& device_id, const std::string& replica) {
  if (std::shared_ptr<DeviceLink> link = devices_.Find(device_id); link != nullptr && HolderOf(*link) == replica) {
    devices_.Unregister(device_id, link.get());
  }
  absl::MutexLock lock(&mu_);
  if (auto it = replicas_.find(replica); it != replicas_.end()) it->second.devices.erase(device_id);
}

void FleetDirectory::Replace(const std::string& replica, const std::vector<Device>& devices) {
  absl::flat_hash_set<std::string> gone;
  {
    absl::MutexLock lock(&mu_);
    Replica& holder = replicas_[replica];
    holder.last_heard = clock_.Now();
    gone = std::move(holder.devices);
    holder.devices.clear();
  }
  for (const Device& device : devices) gone.erase(device.device_id());
  for (const std::string& device_id : gone) Disconnected(device_id, replica);
  for (const Device& device : devices) Connected(device);
}

bool FleetDirectory::Heard(const std::string& replica) {
  absl::MutexLock lock(&mu_);
  auto [it, is_new] = replicas_.try_emplace(replica);
  it->second.last_heard = clock_.Now();
  return is_new;
}

bool FleetDirectory::Alive(const std::string& replica) const {
  absl::MutexLock lock(&mu_);
  return replicas_.contains(replica);
}

void FleetDirectory::Drop(const std::string& replica) {
  absl::flat_hash_set<std::string> held;
  {
    absl::MutexLock lock(&mu_);
    auto it = replicas_.find(replica);
    if (it == replicas_.end()) return;
    held = std::move(it->second.devices);
    replicas_.erase(it);
  }
  for (const std::string& device_id : held) {
    if (std::shared_ptr<DeviceLink> link = devices_.Find(device_id); link != nullptr && HolderOf(*link) == replica) {
      devices_.Unregister(device_id, link.get());
    }
  }
}

std::vector<std::string> FleetDirectory::DropSilent(absl::Duration silence, const std::string& self) {
  const absl::Time now = clock_.Now();
  std::vector<std::string> silent;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, replica] : replicas_) {
      if (name != self && now - replica.last_heard > silence) silent.push_back(name);
    }
  }
  for (const std::string& name : silent) Drop(name);
  return silent;
}

bool FleetDirectory::HeardWithin(const std::string& replica, absl::Duration window) {
  absl::MutexLock lock(&mu_);
  auto it = replicas_.find(replica);
  return it != replicas_.end() && clock_.Now() - it->second.last_heard <= window;
}

void FleetDirectory::RestartClocks(absl::Duration grace) {
  const absl::Time heard = clock_.Now() + grace;
  absl::MutexLock lock(&mu_);
  for (auto& [name, replica] : replicas_) replica.last_heard = std::max(replica.last_heard, heard);
}

}  // namespace hive

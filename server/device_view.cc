#include "server/device_view.h"

#include <algorithm>
#include <memory>
#include <utility>

namespace hive::server {
namespace {

using hive::bridge::v1::Device;
using hive::bridge::v1::PRESENCE_ALL;
using hive::bridge::v1::PRESENCE_OFFLINE;

// Devices taken from either source per step of a listing.
constexpr size_t kChunk = 256;

}  // namespace

Device DeviceView::Show(const Twin* twin, const Device* live) {
  Device device;
  if (twin != nullptr) device = ToDevice(*twin);
  if (live == nullptr) return device;
  // The live connection is the truth about the connection; the twin adds
  // what the device reported.
  device.set_device_id(live->device_id());
  device.set_account_id(live->account_id());
  device.set_address(live->address());
  *device.mutable_connected_at() = live->connected_at();
  if (live->has_last_alive_at()) *device.mutable_last_alive_at() = live->last_alive_at();
  device.set_protocol(live->protocol());
  if (!live->replica().empty()) device.set_replica(live->replica());
  device.set_online(true);
  device.clear_disconnected_at();
  device.clear_close_code();
  device.clear_close_reason();
  return device;
}

std::optional<Device> DeviceView::Live(const std::string& device_id) const {
  std::shared_ptr<DeviceLink> link = directory_.Find(device_id);
  if (link == nullptr) return std::nullopt;
  return link->Describe();
}

std::optional<Device> DeviceView::Find(const std::string& device_id) const {
  std::optional<Twin> twin;
  return Find(device_id, twin);
}

std::optional<Device> DeviceView::Find(const std::string& device_id, std::optional<Twin>& twin) const {
  std::optional<Device> live = Live(device_id);
  twin = twins_.Get(device_id);
  if (!live.has_value() && !twin.has_value()) return std::nullopt;
  return Show(twin.has_value() ? &*twin : nullptr, live.has_value() ? &*live : nullptr);
}

std::vector<Device> DeviceView::List(const Query& query) const {
  std::vector<Device> out;
  const bool from_twins = query.presence == PRESENCE_OFFLINE || query.presence == PRESENCE_ALL;
  const bool from_directory = query.presence != PRESENCE_OFFLINE;
  auto wanted = [&query](const Twin& twin) {
    return (query.account_id.empty() || twin.account_id == query.account_id) &&
           (query.version.empty() || twin.version == query.version);
  };
  std::string after = query.after;
  while (out.size() < query.limit) {
    // One step: a chunk from each source in use, merged by id up to where
    // both are complete (the smaller of their last ids when cut short).
    TwinStore::Page twins;
    if (from_twins) twins = twins_.PageAfter(after, kChunk, wanted);
    std::vector<Device> live;
    if (from_directory) live = directory_.List(query.account_id, after, kChunk);
    const bool live_end = live.size() < kChunk;
    std::optional<std::string> bound;
    if (from_twins && !twins.end) bound = twins.last_scanned;
    if (from_directory && !live_end && (!bound.has_value() || live.back().device_id() < *bound)) {
      bound = live.back().device_id();
    }
    auto t = twins.twins.begin();
    auto l = live.begin();
    auto within = [&bound](const std::string& id) { return !bound.has_value() || id <= *bound; };
    while (out.size() < query.limit) {
      const bool has_t = t != twins.twins.end() && within(t->device_id);
      const bool has_l = l != live.end() && within(l->device_id());
      if (!has_t && !has_l) break;
      std::optional<Twin> twin;
      std::optional<Device> link;
      if (has_t && (!has_l || t->device_id <= l->device_id())) {
        twin = *t;
        if (has_l && l->device_id() == t->device_id) link = *l++;
        ++t;
        // From the twins only: ask the directory whether it is online.
        if (!from_directory) link = Live(twin->device_id);
        if (!link.has_value() && from_directory && query.presence == PRESENCE_ALL) link = Live(twin->device_id);
      } else {
        link = *l++;
        twin = twins_.Get(link->device_id());
        // Twins the listing skipped (another version) stay skipped.
        if (twin.has_value() && !wanted(*twin)) continue;
        if (!query.version.empty() && !twin.has_value()) continue;
      }
      after = link.has_value() ? link->device_id() : twin->device_id;
      if (query.presence == PRESENCE_OFFLINE && link.has_value()) continue;
      out.push_back(Show(twin.has_value() ? &*twin : nullptr, link.has_value() ? &*link : nullptr));
    }
    if (!bound.has_value()) break;  // both sources are exhausted
    after = std::max(after, *bound);
  }
  return out;
}

}  // namespace hive::server

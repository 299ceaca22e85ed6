#include "bridge/twin/twin_store.h"

#include <algorithm>
#include <utility>

#include "bridge/close_codes.h"
#include "bridge/event_bytes.h"
#include "google/protobuf/util/time_util.h"

namespace hive {
namespace {

using google::protobuf::util::TimeUtil;
using hive::bridge::v1::DeviceEvent;

constexpr absl::string_view kConnected = "device-connected";
constexpr absl::string_view kDisconnected = "device-disconnected";
constexpr absl::string_view kAlive = "device-alive";
constexpr absl::string_view kVersion = "device-version";

bool Later(const google::protobuf::Timestamp& a, const google::protobuf::Timestamp& b) {
  return TimeUtil::TimestampToNanoseconds(a) > TimeUtil::TimestampToNanoseconds(b);
}

}  // namespace

TwinStore::TwinStore(Options options) : options_(std::move(options)) {}

TwinStore::OfflineKey TwinStore::KeyOf(const Twin& twin) {
  return {TimeUtil::TimestampToNanoseconds(twin.disconnected_at), twin.device_id};
}

void TwinStore::OnEvent(const std::shared_ptr<const DeviceEvent>& event, size_t bytes) {
  // Most events of a busy fleet are of no concern to twins (device-alive is,
  // but cheap): decided before taking the lock.
  const bool changes = !event->device_id().empty() && options_.types.Changes(event->type());
  absl::MutexLock lock(&mu_);
  if (applied_epoch_ != event->epoch()) applied_epoch_ = event->epoch();
  applied_sequence_ = event->sequence();
  if (!changes) return;
  ApplyLocked(*event, event, bytes);
  EnforceLimitsLocked();
}

void TwinStore::ApplyLocked(const DeviceEvent& event, const std::shared_ptr<const DeviceEvent>& frozen, size_t bytes) {
  auto [it, created] = twins_.try_emplace(event.device_id());
  Twin& twin = it->second;
  if (created) {
    twin.device_id = event.device_id();
    bytes_ += twin.bytes;
  }
  if (!event.account_id().empty() && twin.account_id != event.account_id()) twin.account_id = event.account_id();
  const absl::string_view type = event.type();
  if (type == kConnected) {
    if (twin.connection == Twin::Connection::kDisconnected) offline_.erase(KeyOf(twin));
    twin.connection = Twin::Connection::kConnected;
    twin.address = event.connected().address();
    twin.protocol = event.connected().protocol();
    if (!options_.replica.empty()) twin.replica = options_.replica;
    twin.connected_at = event.received_at();
    twin.disconnected_at.Clear();
    twin.close_code = 0;
    twin.close_reason.clear();
  } else if (type == kDisconnected) {
    // A connection replaced by a newer one of the same device: its goodbye
    // may come after the newer one's hello, and the device is still online.
    if (event.disconnected().close_code() == close_code::kReplaced) return;
    if (twin.connection == Twin::Connection::kDisconnected) offline_.erase(KeyOf(twin));
    twin.connection = Twin::Connection::kDisconnected;
    twin.disconnected_at = event.received_at();
    twin.close_code = event.disconnected().close_code();
    twin.close_reason = event.disconnected().reason();
    offline_.insert(KeyOf(twin));
  } else if (type == kAlive) {
    twin.last_alive_at = event.received_at();
  } else {
    Twin::Reported& kept = twin.reported[std::string(type)];
    twin.bytes = twin.bytes - kept.bytes + bytes;
    bytes_ = bytes_ - kept.bytes + bytes;
    kept = {frozen, bytes};
    if (type == kVersion) {
      // A schema-error device-version has no typed body: no version known.
      twin.version = event.has_device_version() ? event.device_version().version() : std::string();
    }
  }
  MarkDirtyLocked(twin.device_id);
}

void TwinStore::Load(std::vector<Twin> twins, bool close_connected) {
  absl::MutexLock lock(&mu_);
  for (Twin& twin : twins) {
    const bool cut_off = close_connected && twin.connection == Twin::Connection::kConnected;
    if (cut_off) {
      twin.connection = Twin::Connection::kDisconnected;
      twin.disconnected_at = Later(twin.last_alive_at, twin.connected_at) ? twin.last_alive_at : twin.connected_at;
      twin.close_code = close_code::kAbnormal;
      twin.close_reason = "the bridge stopped while the device was connected";
    }
    const std::string id = twin.device_id;
    InsertLocked(std::move(twin));
    if (cut_off) MarkDirtyLocked(id);
  }
  EnforceLimitsLocked();
}

void TwinStore::InsertLocked(Twin twin) {
  auto [it, created] = twins_.try_emplace(twin.device_id);
  if (!created) {
    bytes_ -= it->second.bytes;
    if (it->second.connection == Twin::Connection::kDisconnected) offline_.erase(KeyOf(it->second));
  }
  bytes_ += twin.bytes;
  if (twin.connection == Twin::Connection::kDisconnected) offline_.insert(KeyOf(twin));
  it->second = std::move(twin);
}

void TwinStore::EnforceLimitsLocked() {
  while (!offline_.empty() && (twins_.size() > options_.max_twins || bytes_ > options_.max_bytes)) {
    if (twins_.size() > options_.max_twins) {
      ++forgotten_max_twins_;
    } else {
      ++forgotten_max_bytes_;
    }
    auto oldest = offline_.begin();
    auto it = twins_.find(oldest->second);
    if (it != twins_.end()) {
      bytes_ -= it->second.bytes;
      twins_.erase(it);
    }
    MarkDirtyLocked(oldest->second);
    offline_.erase(oldest);
  }
}

void TwinStore::MarkDirtyLocked(const std::string& device_id) {
  if (options_.track_changes) dirty_.insert(device_id);
}

std::optional<Twin> TwinStore::Get(const std::string& device_id) const {
  absl::MutexLock lock(&mu_);
  auto it = twins_.find(device_id);
  if (it == twins_.end()) return std::nullopt;
  return it->second;
}

TwinStore::Page TwinStore::PageAfter(const std::string& after, size_t limit,
                                     const std::function<bool(const Twin&)>& keep) const {
  Page page;
  page.last_scanned = after;
  absl::MutexLock lock(&mu_);
  auto it = after.empty() ? twins_.begin() : twins_.upper_bound(after);
  size_t scanned = 0;
  for (; it != twins_.end() && page.twins.size() < limit && scanned < kMaxScan; ++it, ++scanned) {
    page.last_scanned = it->first;
    if (keep(it->second)) page.twins.push_back(it->second);
  }
  page.end = it == twins_.end();
  return page;
}

uint64_t TwinStore::applied_sequence() const {
  absl::MutexLock lock(&mu_);
  return applied_sequence_;
}

TwinStore::Stats TwinStore::stats() const {
  absl::MutexLock lock(&mu_);
  return {twins_.size(), bytes_, forgotten_max_twins_, forgotten_max_bytes_};
}

TwinStore::Changes TwinStore::TakeChanges() {
  Changes changes;
  absl::MutexLock lock(&mu_);
  changes.epoch = applied_epoch_;
  changes.sequence = applied_sequence_;
  // Copies are cheap (the events are shared); serializing waits for the
  // persister's own thread, outside the lock.
  for (const std::string& id : dirty_) {
    auto it = twins_.find(id);
    if (it == twins_.end()) {
      changes.removed.push_back(id);
    } else {
      changes.upserts.push_back(it->second);
    }
  }
  dirty_.clear();
  return changes;
}

void TwinStore::Remark(const Changes& changes) {
  absl::MutexLock lock(&mu_);
  for (const Twin& twin : changes.upserts) dirty_.insert(twin.device_id);
  for (const std::string& id : changes.removed) dirty_.insert(id);
}

}  // namespace hive

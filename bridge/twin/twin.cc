#include "bridge/twin/twin.h"

#include <utility>

#include "bridge/event_bytes.h"

namespace hive {

using hive::bridge::v1::Device;
using hive::bridge::v1::DeviceEvent;

namespace {

bool IsSet(const google::protobuf::Timestamp& at) { return at.seconds() != 0 || at.nanos() != 0; }

}  // namespace

Device ToDevice(const Twin& twin) {
  Device device;
  device.set_device_id(twin.device_id);
  device.set_account_id(twin.account_id);
  device.set_address(twin.address);
  if (IsSet(twin.connected_at)) *device.mutable_connected_at() = twin.connected_at;
  if (IsSet(twin.last_alive_at)) *device.mutable_last_alive_at() = twin.last_alive_at;
  device.set_protocol(twin.protocol);
  device.set_replica(twin.replica);
  if (twin.connection == Twin::Connection::kDisconnected) {
    *device.mutable_disconnected_at() = twin.disconnected_at;
    device.set_close_code(twin.close_code);
    device.set_close_reason(twin.close_reason);
  }
  device.set_version(twin.version);
  auto& reported = *device.mutable_reported();
  for (const auto& [type, kept] : twin.reported) reported[type] = *kept.event;
  return device;
}

absl::StatusOr<Twin> TwinFromDevice(Device device) {
  if (device.device_id().empty()) return absl::InvalidArgumentError("device_id: missing in a stored twin");
  Twin twin;
  twin.device_id = std::move(*device.mutable_device_id());
  twin.account_id = std::move(*device.mutable_account_id());
  twin.address = std::move(*device.mutable_address());
  twin.protocol = std::move(*device.mutable_protocol());
  twin.replica = std::move(*device.mutable_replica());
  twin.connected_at = device.connected_at();
  twin.last_alive_at = device.last_alive_at();
  if (device.has_disconnected_at()) {
    twin.connection = Twin::Connection::kDisconnected;
    twin.disconnected_at = device.disconnected_at();
    twin.close_code = device.close_code();
    twin.close_reason = std::move(*device.mutable_close_reason());
  } else if (device.has_connected_at()) {
    twin.connection = Twin::Connection::kConnected;
  }
  twin.version = std::move(*device.mutable_version());
  for (auto& [type, event] : *device.mutable_reported()) {
    auto frozen = std::make_shared<DeviceEvent>(std::move(event));
    const size_t bytes = EventBytes(*frozen);
    twin.bytes += bytes;
    twin.reported.emplace(type, Twin::Reported{std::move(frozen), bytes});
  }
  return twin;
}

}  // namespace hive

// bridge/twin/twin.h
// One device's twin: what the bridge last knew of it, built from its events
// (twin_store.h applies them). Cheap to copy: the reported events are the
// hub's frozen events, shared, never copied.
//
//   Twin twin = ...;                       // a copy taken from the store
//   hive::bridge::v1::Device device = ToDevice(twin);   // online = false
//   absl::StatusOr<Twin> back = TwinFromDevice(device); // the stored form
//
// `online` is not part of a twin: it is the live directory's answer, asked
// when a twin is shown (server/device_listing.h). What a twin does know is
// how its last connection stands by its events (`connection`): a device
// whose last lifecycle event was device-connected is never forgotten to make
// room (twin_store.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/btree_map.h"
#include "absl/status/statusor.h"
#include "google/protobuf/timestamp.pb.h"
#include "hive/bridge/v1/device_bridge.pb.h"
#include "hive/bridge/v1/events.pb.h"

namespace hive {

// Per twin, besides the kept events' EventBytes: the record, its strings, its
// map nodes and its index entries (an estimate, as kEventOverheadBytes is).
inline constexpr size_t kTwinOverheadBytes = 512;

struct Twin {
  // How the device's last connection stands, by its lifecycle events.
  enum class Connection {
    kUnknown,       // no device-connected or -disconnected event seen yet
    kConnected,     // the last one was device-connected
    kDisconnected,  // the last one was device-disconnected
  };

  std::string device_id;
  std::string account_id;
  Connection connection = Connection::kUnknown;
  // Of the last connection (device-connected).
  std::string address;
  std::string protocol;
  std::string replica;
  google::protobuf::Timestamp connected_at;  // unset: 0
  // Of the last device-alive event.
  google::protobuf::Timestamp last_alive_at;
  // Of the last device-disconnected event; cleared by device-connected.
  google::protobuf::Timestamp disconnected_at;
  int32_t close_code = 0;
  std::string close_reason;
  // The typed version of the latest device-version event; empty when that
  // event carried none (a schema error) or before one.
  std::string version;
  // The latest event of each kept type (twin_types.h), by type, with its
  // EventBytes so that replacing it is a subtraction.
  struct Reported {
    std::shared_ptr<const hive::bridge::v1::DeviceEvent> event;
    size_t bytes = 0;
  };
  absl::btree_map<std::string, Reported> reported;
  // kTwinOverheadBytes + the EventBytes of `reported`.
  size_t bytes = kTwinOverheadBytes;
};

// The twin as the API shows it, with `online` false (the caller sets it).
hive::bridge::v1::Device ToDevice(const Twin& twin);

// A twin back from its stored form (ToDevice's output). INVALID_ARGUMENT
// naming the field when the record is not one: no device id.
absl::StatusOr<Twin> TwinFromDevice(hive::bridge::v1::Device device);

}  // namespace hive

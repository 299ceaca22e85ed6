// server/device_view.h
// A device as ListDevices, GetDevice and WatchDevices show it: its twin (what
// the bridge remembers, bridge/twin/twin_store.h) with `online` and the live
// connection's fields from the directory (this replica's sessions, or the
// fleet's in cluster mode). `online` is never stored: it is the directory's
// answer at the moment of asking.
//
//   DeviceView view(directory, twins);
//   std::optional<Device> device = view.Find(id);   // nullopt: neither knows it
//   std::vector<Device> page = view.List({.account_id = a, .presence = PRESENCE_OFFLINE, .limit = 101});
//
// Thread-safe (both sources are); a listing takes each source's lock for one
// bounded step at a time, never both at once.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "bridge/session_registry.h"
#include "bridge/twin/twin_store.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive::server {

class DeviceView {
 public:
  struct Query {
    std::string account_id;  // canonical; empty for all
    hive::bridge::v1::Presence presence = hive::bridge::v1::PRESENCE_ONLINE;
    std::string version;  // empty for any
    std::string after;    // canonical device id; empty from the start
    size_t limit = 100;
  };

  DeviceView(const SessionRegistry& directory, const TwinStore& twins) : directory_(directory), twins_(twins) {}

  // The device's twin merged with its live connection; nullopt when the
  // bridge neither holds nor remembers it.
  std::optional<hive::bridge::v1::Device> Find(const std::string& device_id) const;
  // As Find, and the twin it read (nullopt when none), for a caller that also
  // needs what a Device does not show (the twin's lifecycle state).
  std::optional<hive::bridge::v1::Device> Find(const std::string& device_id, std::optional<Twin>& twin) const;

  // Up to `query.limit` devices after `query.after`, in device id order.
  std::vector<hive::bridge::v1::Device> List(const Query& query) const;

  // A twin (or none) and a live description (or none, offline) as one Device.
  static hive::bridge::v1::Device Show(const Twin* twin, const hive::bridge::v1::Device* live);

 private:
  std::optional<hive::bridge::v1::Device> Live(const std::string& device_id) const;

  const SessionRegistry& directory_;
  const TwinStore& twins_;
};

}  // namespace hive::server

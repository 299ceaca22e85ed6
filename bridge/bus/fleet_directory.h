// bridge/bus/fleet_directory.h
// In cluster mode, every device of the fleet and the replica holding it, as
// the replicas announce them on the bus: a device connecting or leaving, a
// replica's full list when it (re)joins, and a heartbeat per replica. A
// replica that stops beating is dropped with its devices, so that requests
// for them fail fast instead of waiting for an answer that cannot come.
//
// Lookups (devices()) are thread-safe; the announcements come from the bus
// thread.
#pragma once

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/clock.h"
#include "bridge/session_registry.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive {

using hive::bridge::v1::Device;

class FleetDirectory {
 public:
  explicit FleetDirectory(const Clock& clock) : clock_(clock), devices_(clock) {}

  // The fleet's devices; waiters for a device are woken when any replica
  // announces it.
  SessionRegistry& devices() { return devices_; }

  // `device.replica()` holds the device now.
  void Connected(const Device& device);
  // The device left `replica` (nothing if it is held elsewhere by now).
  void Disconnected(const std::string& device_id, const std::string& replica);
  // `replica` holds exactly `devices`.
  void Replace(const std::string& replica, const std::vector<Device>& devices);
  // The replica is alive; true when it was not known (the caller asks it for
  // its list).
  bool Heard(const std::string& replica);
  // Whether `replica` was heard within `window` (or its clock was restarted
  // since, with grace still to run).
  bool HeardWithin(const std::string& replica, absl::Duration window);
  // Whether the replica beats (heard from, and neither dropped nor silent
  // long enough to be dropped yet).
  bool Alive(const std::string& replica) const;
  // Forgets the replica and its devices.
  void Drop(const std::string& replica);
  // Drops the replicas not heard from for `silence`, but never `self`, and
  // names them. Call it only while the broker is healthy: while it is
  // blocked or silent, nobody can be heard.
  std::vector<std::string> DropSilent(absl::Duration silence, const std::string& self);
  // The broker is healthy again: every replica counts as heard `grace` from
  // now (after a reconnect, the time the others may take to reconnect too),
  // so that the time the broker was away counts against nobody.
  void RestartClocks(absl::Duration grace = absl::ZeroDuration());

 private:
  struct Replica {
    absl::Time last_heard;
    absl::flat_hash_set<std::string> devices;
  };

  const Clock& clock_;
  SessionRegistry devices_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Replica> replicas_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hive

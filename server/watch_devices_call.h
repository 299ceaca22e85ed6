// server/watch_devices_call.h
// One WatchDevices stream: the snapshot of the matching twins, an end
// marker, then the twin again with each event that changes it.
//
// How it stays exact without holding anything still: it reads the twin
// store's applied sequence S, then subscribes to the hub resuming after S
// (so every event after S comes through the subscription), then walks the
// store in device id order a bounded page at a time, sending each twin as it
// stands when sent. A twin sent in the snapshot may already include an event
// that follows as a change; a watcher that replaces its copy with every
// message is right either way. Events wait in the subscription's bounded
// queue meanwhile; when it overflows (a Gap), the stream sends the snapshot
// again, which includes every event the gap covers (the store applies an
// event before the hub hands it out), then another end marker.
#pragma once

#include <atomic>

#include "bridge/event_hub.h"
#include "bridge/twin/twin_store.h"
#include "grpcpp/grpcpp.h"
#include "hive/bridge/v1/device_bridge.pb.h"
#include "server/device_view.h"

namespace hive::server {

struct WatchDevicesDeps {
  EventHub& hub;
  const TwinStore& twins;
  const TwinTypes& types;
  const DeviceView& view;
  const std::atomic<bool>& draining;
};

// `request` is already narrowed to the caller's accounts.
grpc::ServerWriteReactor<hive::bridge::v1::WatchDevicesResponse>* StartWatchDevices(
    const hive::bridge::v1::WatchDevicesRequest& request, const WatchDevicesDeps& deps);

// A stream that ends at once with `why`.
grpc::ServerWriteReactor<hive::bridge::v1::WatchDevicesResponse>* RejectWatchDevices(const absl::Status& why);

}  // namespace hive::server

// tests/unit/bus/fake_local_devices.h
// LocalDevices for the bus's parts under test: a set of devices "connected
// here", every request delivered to one (kept with its done, to answer
// later), and every connection closed as replaced.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "bridge/bus/local_devices.h"
#include "google/protobuf/util/time_util.h"

namespace hive::testing {

// A device of account "acc" as `replica` announces it, connected at
// `connected_at_seconds` (Unix time): which of two connections is newer.
inline hive::bridge::v1::Device DeviceOn(const std::string& replica, const std::string& device_id,
                                         int64_t connected_at_seconds = 100) {
  hive::bridge::v1::Device device;
  device.set_device_id(device_id);
  device.set_account_id("acc");
  device.set_replica(replica);
  *device.mutable_connected_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(connected_at_seconds);
  return device;
}

class FakeLocalDevices final : public LocalDevices {
 public:
  struct Delivered {
    hive::bridge::v1::SendDeviceRequestRequest request;
    std::string traceparent;
    absl::Time deadline;
    RequestCorrelator::Done done;
  };

  void Connect(hive::bridge::v1::Device device) { devices_[device.device_id()] = std::move(device); }

  std::vector<hive::bridge::v1::Device> List() const override {
    std::vector<hive::bridge::v1::Device> out;
    for (const auto& [id, device] : devices_) out.push_back(device);
    return out;
  }

  bool Deliver(const hive::bridge::v1::SendDeviceRequestRequest& request, absl::string_view traceparent,
               absl::Time deadline, RequestCorrelator::Done done) override {
    if (devices_.count(request.device_id()) == 0) return false;
    delivered.push_back({request, std::string(traceparent), deadline, std::move(done)});
    return true;
  }

  bool CloseIfReplaced(const hive::bridge::v1::Device& newer) override {
    auto it = devices_.find(newer.device_id());
    using google::protobuf::util::TimeUtil;
    if (it == devices_.end() || TimeUtil::TimestampToNanoseconds(it->second.connected_at()) >=
                                    TimeUtil::TimestampToNanoseconds(newer.connected_at())) {
      return false;
    }
    devices_.erase(it);
    replaced.push_back(newer.device_id());
    return true;
  }

  std::vector<Delivered> delivered;
  std::vector<std::string> replaced;

 private:
  std::map<std::string, hive::bridge::v1::Device> devices_;
};

}  // namespace hive::testing

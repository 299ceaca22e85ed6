// bridge/jobs/joining_devices.h
// What the job engine asks about a running job's selector when the job
// takes devices that come to match it (JobRollout.include_joining,
// docs/jobs.md): the bridge answers from the twins and the device directory
// (server/job_selection.h), so the engine need not know either.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "hive/bridge/v1/jobs.pb.h"

namespace hive {

class JoiningDevices {
 public:
  virtual ~JoiningDevices() = default;
  // Whether `device_id` matches the selector now (validated at StartJob).
  virtual bool Matches(const hive::bridge::v1::DeviceSelector& selector, const std::string& device_id) const = 0;
  // The devices the selector matches now, in device id order, at most
  // `limit`.
  virtual std::vector<std::string> Select(const hive::bridge::v1::DeviceSelector& selector, size_t limit) const = 0;
};

}  // namespace hive

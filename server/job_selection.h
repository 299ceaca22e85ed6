// server/job_selection.h
// Which devices a job sends its command to (JobTarget): an explicit list,
// each device known to the bridge; or a DeviceSelector over the twins
// (account, presence, version, twin field equality), as ListDevices sees
// them. Sorted by device id: the order the job sends in, the same on every
// replica. A restricted backend caller must name one of its accounts in the
// selector, and may list only devices of its accounts.
//
//   absl::StatusOr<JobSelection> selection = SelectJobDevices(view, target, grant, max_devices);
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bridge/auth/backend_policy.h"
#include "bridge/jobs/joining_devices.h"
#include "hive/bridge/v1/jobs.pb.h"
#include "server/device_view.h"

namespace hive::server {

struct JobSelection {
  // Canonical, sorted: the order the job sends in.
  std::vector<std::string> device_ids;
  // The one account every selected device belongs to (the selector's, or
  // the listed devices' when they share one); empty otherwise.
  std::string account_id;
};

// The target's devices. INVALID_ARGUMENT for a bad
// id, field match or no target; NOT_FOUND for a listed device the bridge
// does not know; PERMISSION_DENIED outside the caller's accounts;
// FAILED_PRECONDITION when nothing matches; RESOURCE_EXHAUSTED over
// `max_devices` (--max-job-devices).
absl::StatusOr<JobSelection> SelectJobDevices(const DeviceView& view, const hive::bridge::v1::JobTarget& target,
                                              const std::optional<BackendGrant>& grant, size_t max_devices);

// include_joining: the job engine's view of which devices match a running
// job's selector (checked at StartJob), as SelectJobDevices reads it; but
// Matches, asked after an event, judges presence as the event stream does:
// by the device's last lifecycle event in its twin (the directory when the
// twin has none). In cluster mode the directory hears of a connection on
// another replica apart from the event stream, and may not have it yet when
// the engine reads the device-connected event (or a version reported right
// after it); the twin has every event up to the one being read.
class SelectorJoins final : public JoiningDevices {
 public:
  explicit SelectorJoins(const DeviceView& view) : view_(view) {}
  bool Matches(const hive::bridge::v1::DeviceSelector& selector, const std::string& device_id) const override;
  std::vector<std::string> Select(const hive::bridge::v1::DeviceSelector& selector, size_t limit) const override;

 private:
  const DeviceView& view_;
};

// Whether `device`'s twin has every value of `fields` (checked valid).
bool MatchesTwinFields(const hive::bridge::v1::Device& device,
                       const google::protobuf::RepeatedPtrField<hive::bridge::v1::TwinFieldMatch>& fields);

}  // namespace hive::server

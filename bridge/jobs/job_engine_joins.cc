// JobEngine, include_joining: the devices that come to match a running
// job's selector join it (job_engine.h).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_set.h"
#include "bridge/jobs/job_engine.h"

namespace hive {

bool JobEngine::RefreshJoins() {
  if (options_.joining == nullptr) return false;
  absl::btree_set<std::string> types;
  for (const auto& [job_id, runner] : runners_) {
    if (!runner->joining()) continue;
    // A device matches anew when it connects or leaves (presence), reports
    // a version, or reports a twin type the selector's fields look into.
    types.insert({"device-connected", "device-disconnected", "device-version"});
    for (const hive::bridge::v1::TwinFieldMatch& field : runner->selector().fields()) types.insert(field.event_type());
  }
  std::vector<std::string> wanted(types.begin(), types.end());
  // Fewer types than subscribed to (a job ended): the subscription still
  // has every event wanted, and a new one would need a sweep.
  const bool covered = std::includes(join_types_.begin(), join_types_.end(), wanted.begin(), wanted.end());
  if (covered && !(wanted.empty() && joins_ != nullptr)) return false;
  join_types_ = std::move(wanted);
  joins_.reset();
  if (join_types_.empty()) return false;
  hive::bridge::v1::SubscribeEventsRequest request;
  for (const std::string& type : join_types_) request.add_types(type);
  joins_ =
      hub_.Subscribe(EventFilter::FromRequest(request), std::nullopt, [this] { Post([this]() { DrainJoins(); }); });
  // What came between the former subscription and this one is unknown.
  for (const auto& [job_id, runner] : runners_) Sweep(*runner);
  // The consumer has the turn right after subscribing (event_subscription.h).
  DrainJoins();
  return true;
}

void JobEngine::DrainJoins() {
  if (joins_ == nullptr) return;
  std::vector<std::string> devices;
  absl::flat_hash_set<std::string> seen;
  bool missed = false;
  while (std::shared_ptr<const hive::bridge::v1::DeviceEvent> event = joins_->Next()) {
    if (event->has_gap()) {
      missed = true;
      continue;
    }
    // The twin has every event up to the last one read: one look a device.
    if (event->device_id().empty() || !seen.insert(event->device_id()).second) continue;
    devices.push_back(event->device_id());
  }
  if (missed) {
    // Events were lost to the subscription's buffer: read every selection.
    for (const auto& [job_id, runner] : runners_) Sweep(*runner);
    return;
  }
  OfferJoins(devices);
}

void JobEngine::OfferJoins(const std::vector<std::string>& devices) {
  if (devices.empty()) return;
  for (const auto& [job_id, runner] : runners_) {
    if (!runner->joining()) continue;
    std::vector<std::string> matching;
    for (const std::string& device_id : devices) {
      if (!runner->Has(device_id) && options_.joining->Matches(runner->selector(), device_id)) {
        matching.push_back(device_id);
      }
    }
    if (!matching.empty()) runner->Join(matching, options_.max_job_devices);
  }
}

void JobEngine::Sweep(JobRunner& runner) {
  if (options_.joining == nullptr || !runner.joining()) return;
  runner.Join(options_.joining->Select(runner.selector(), options_.max_job_devices + 1), options_.max_job_devices);
}

}  // namespace hive

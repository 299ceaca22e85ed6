// bridge/jobs/wave_plan.h
// A rollout's waves (JobRollout.waves) as device counts: wave k covers the
// selection's devices [end(k-1), end(k)), where end(k) is the wave's
// cumulative percent of the selection, rounded up, so a 1 % wave of 50
// devices still sends one device and every wave's end is reached exactly.
//
//   absl::StatusOr<WavePlan> plan = WavePlan::Make(rollout.waves(), selected);
//   plan->end_of(0);            // 1 of 50 for waves 1, 10, 100
//   plan->wave_of(device_index);
#pragma once

#include <cstddef>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "hive/bridge/v1/jobs.pb.h"

namespace hive {

class WavePlan {
 public:
  // INVALID_ARGUMENT (naming the wave) unless the percents are finite,
  // above 0, strictly ascending and the last is 100, and each pause is a
  // valid non-negative duration. No waves: one wave of 100 %.
  static absl::StatusOr<WavePlan> Make(const google::protobuf::RepeatedPtrField<hive::bridge::v1::JobWave>& waves,
                                       size_t selected);

  size_t waves() const { return ends_.size(); }
  // How many devices waves 0..k send to in all.
  size_t end_of(size_t wave) const { return ends_[wave]; }
  // The wave the device at `index` of the sorted selection belongs to.
  size_t wave_of(size_t index) const;
  // A selection grown by `include_joining`: the last wave takes the newcomers.
  void Grow(size_t selected) { ends_.back() = selected; }

 private:
  explicit WavePlan(std::vector<size_t> ends) : ends_(std::move(ends)) {}

  std::vector<size_t> ends_;
};

}  // namespace hive

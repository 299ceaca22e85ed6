#include "bridge/jobs/wave_plan.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

namespace hive {

absl::StatusOr<WavePlan> WavePlan::Make(const google::protobuf::RepeatedPtrField<hive::bridge::v1::JobWave>& waves,
                                        size_t selected) {
  if (waves.empty()) return WavePlan({selected});
  std::vector<size_t> ends;
  double previous = 0;
  for (int i = 0; i < waves.size(); ++i) {
    const hive::bridge::v1::JobWave& wave = waves[i];
    const double percent = wave.percent();
    if (!std::isfinite(percent) || percent <= previous || percent > 100) {
      return absl::InvalidArgumentError(absl::StrCat("rollout.waves[", i, "].percent: ", percent,
                                                     " must be above the previous wave's (", previous,
                                                     ") and at most 100"));
    }
    const google::protobuf::Duration& pause = wave.pause_after();
    if (pause.seconds() < 0 || pause.seconds() > google::protobuf::util::TimeUtil::kDurationMaxSeconds ||
        pause.nanos() < 0 || pause.nanos() > 999'999'999) {
      return absl::InvalidArgumentError(absl::StrCat("rollout.waves[", i, "].pause_after: not a duration >= 0"));
    }
    previous = percent;
    // Ceil, but never past the selection (floating point: 100 % of n is n).
    ends.push_back(std::min(selected, static_cast<size_t>(std::ceil(percent * static_cast<double>(selected) / 100))));
  }
  if (previous != 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout.waves: the last wave's percent is ", previous, "; it must be 100"));
  }
  return WavePlan(std::move(ends));
}

size_t WavePlan::wave_of(size_t index) const {
  const auto it = std::upper_bound(ends_.begin(), ends_.end(), index);
  return it == ends_.end() ? ends_.size() - 1 : static_cast<size_t>(it - ends_.begin());
}

}  // namespace hive

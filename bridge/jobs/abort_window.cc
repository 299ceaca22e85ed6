#include "bridge/jobs/abort_window.h"

#include <cmath>

#include "absl/strings/str_format.h"

namespace hive {

AbortWindow::AbortWindow(size_t window, double max_failure_ratio)
    : max_failure_ratio_(max_failure_ratio), failed_(window, false) {}

void AbortWindow::Record(bool failed) {
  if (recorded_ == failed_.size() && failed_[next_]) --failures_;  // the oldest leaves the window
  failed_[next_] = failed;
  if (failed) ++failures_;
  next_ = (next_ + 1) % failed_.size();
  if (recorded_ < failed_.size()) ++recorded_;
}

bool AbortWindow::Fires() const {
  return recorded_ == failed_.size() &&
         static_cast<double>(failures_) > max_failure_ratio_ * static_cast<double>(failed_.size());
}

std::string AbortWindow::Describe() const {
  return absl::StrFormat("%d of the last %d devices failed (%.4g%%, over %.4g%%)", failures_, recorded_,
                         100.0 * static_cast<double>(failures_) / static_cast<double>(failed_.size()),
                         100.0 * max_failure_ratio_);
}

}  // namespace hive

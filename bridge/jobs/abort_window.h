// bridge/jobs/abort_window.h
// A job's abort rule (JobAbortRule): the outcomes of the last `window`
// devices to reach one, and whether more than `max_failure_ratio` of them
// failed. Judged only once the window is full, so the first failure of a
// job never aborts it by itself being 100 % of one.
//
//   AbortWindow window(20, 0.1);
//   window.Record(/*failed=*/true);
//   if (window.Fires()) Abort(window.Describe());
//
// Not thread-safe: it belongs to one job's runner.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace hive {

class AbortWindow {
 public:
  // `window` >= 1; 0 < `max_failure_ratio` < 1 (checked by the caller,
  // which names the field).
  AbortWindow(size_t window, double max_failure_ratio);

  void Record(bool failed);
  bool Fires() const;
  // "12 of the last 20 devices failed (60%, over 10%)".
  std::string Describe() const;

 private:
  const double max_failure_ratio_;
  // A ring of the last outcomes; `next_` is the slot the next one takes.
  std::vector<bool> failed_;
  size_t next_ = 0;
  size_t recorded_ = 0;
  size_t failures_ = 0;
};

}  // namespace hive

#include "tests/integration/support/wait_until.h"

#include "absl/time/clock.h"

namespace hive::integration {
namespace {

// Short against any wait a test makes, long enough not to busy-loop.
constexpr absl::Duration kPollStep = absl::Milliseconds(5);

}  // namespace

::testing::AssertionResult WaitUntil(const std::function<bool()>& done, absl::string_view what,
                                     absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() >= deadline) {
      return ::testing::AssertionFailure()
             << "timed out after " << absl::FormatDuration(timeout) << " waiting until " << what;
    }
    absl::SleepFor(kPollStep);
  }
  return ::testing::AssertionSuccess();
}

}  // namespace hive::integration

#include "clients/device_sim/request_policy.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace hive::sim {
namespace {

constexpr absl::string_view kDelayPrefix = "ack-delay:";
// A result later than the bridge's longest request timeout (1 h) is `never`.
constexpr int64_t kMaxDelayMs = 3'600'000;

}  // namespace

absl::StatusOr<RequestPolicy> ParseRequestPolicy(absl::string_view text) {
  RequestPolicy policy;
  if (text == "ack") {
    policy.answer = RequestPolicy::Answer::kAckOnly;
  } else if (text == "ack-result") {
    policy.answer = RequestPolicy::Answer::kAckThenResult;
  } else if (text == "ack-fail") {
    policy.answer = RequestPolicy::Answer::kAckThenError;
  } else if (text == "never") {
    policy.answer = RequestPolicy::Answer::kNothing;
  } else if (absl::string_view ms = text; absl::ConsumePrefix(&ms, kDelayPrefix)) {
    int64_t delay_ms = 0;
    if (!absl::SimpleAtoi(ms, &delay_ms) || delay_ms < 0 || delay_ms > kMaxDelayMs) {
      return absl::InvalidArgumentError(
          absl::StrCat("ack-delay:MS needs MS between 0 and ", kMaxDelayMs, ", got \"", text, "\""));
    }
    policy.answer = RequestPolicy::Answer::kAckThenResult;
    policy.result_delay = absl::Milliseconds(delay_ms);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("expected ack, ack-result, ack-fail, ack-delay:MS or never, got \"", text, "\""));
  }
  return policy;
}

std::string FormatRequestPolicy(const RequestPolicy& policy) {
  switch (policy.answer) {
    case RequestPolicy::Answer::kAckOnly:
      return "ack";
    case RequestPolicy::Answer::kAckThenError:
      return "ack-fail";
    case RequestPolicy::Answer::kNothing:
      return "never";
    case RequestPolicy::Answer::kAckThenResult:
      break;
  }
  if (policy.result_delay == absl::ZeroDuration()) return "ack-result";
  return absl::StrCat(kDelayPrefix, absl::ToInt64Milliseconds(policy.result_delay));
}

}  // namespace hive::sim

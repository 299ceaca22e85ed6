#include "bridge/log_rate_limiter.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace hive {
namespace {

void LogSummary(LogLevel level, absl::string_view event, absl::string_view key, uint64_t suppressed) {
  hive::Log(level, "log_suppressed",
            {{"suppressed_event", event},
             {"key", key},
             {"suppressed", suppressed},
             {"message", absl::StrCat("suppressed ", suppressed, " similar lines")}});
}

}  // namespace

absl::string_view IpOfAddress(absl::string_view address) {
  if (!address.empty() && address.front() == '[') {
    const size_t close = address.find(']');
    return close == absl::string_view::npos ? address : address.substr(1, close - 1);
  }
  const size_t colon = address.rfind(':');
  // A bare IPv6 address has several colons and no port.
  if (colon == absl::string_view::npos || address.find(':') != colon) return address;
  return address.substr(0, colon);
}

LogRateLimiter::LogRateLimiter(Options options) : options_(options) {}

LogRateLimiter::Verdict LogRateLimiter::Admit(absl::string_view key, absl::Time now) {
  Verdict verdict;
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= std::max<size_t>(1, options_.max_keys)) {
      auto oldest = entries_.find(recency_.back());
      if (oldest->second.suppressed > 0) {
        verdict.evicted_key = oldest->first;
        verdict.evicted_suppressed = oldest->second.suppressed;
      }
      entries_.erase(oldest);
      recency_.pop_back();
    }
    recency_.emplace_front(key);
    it = entries_.emplace(recency_.front(), Entry{now, 0, 0, recency_.begin()}).first;
  } else {
    recency_.splice(recency_.begin(), recency_, it->second.recency);
  }
  Entry& entry = it->second;
  if (now - entry.interval_start >= options_.interval) {
    verdict.suppressed_before = entry.suppressed;
    entry = Entry{now, 0, 0, entry.recency};
  }
  if (entry.written < std::max(1, options_.lines_per_interval)) {
    ++entry.written;
    verdict.write = true;
  } else {
    ++entry.suppressed;  // reported when the key writes again, or is forgotten
  }
  return verdict;
}

void LogRateLimiter::Log(absl::string_view key, absl::Time now, LogLevel level, absl::string_view event,
                         std::initializer_list<LogField> fields) {
  const Verdict verdict = Admit(key, now);
  if (verdict.evicted_suppressed > 0) LogSummary(level, event, verdict.evicted_key, verdict.evicted_suppressed);
  if (!verdict.write) return;
  if (verdict.suppressed_before > 0) LogSummary(level, event, key, verdict.suppressed_before);
  hive::Log(level, event, fields);
}

size_t LogRateLimiter::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace hive

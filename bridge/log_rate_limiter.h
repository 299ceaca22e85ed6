// bridge/log_rate_limiter.h
// Keeps a log line that anyone can provoke (a failed device authentication)
// from flooding the logs: per key (the peer's IP address), at most
// `lines_per_interval` lines per `interval`; the lines over that are counted,
// not written, and the next line written for the key after its interval is
// preceded by one summary line:
//
//   ... level=info event=log_suppressed suppressed_event=device_auth_failed key=203.0.113.7 suppressed=41
//       message="suppressed 41 similar lines"
//
// Memory is bounded: the table holds at most `max_keys` keys and forgets the
// least recently seen one to make room (LRU), writing its summary line first
// if it had suppressed any, so no count is lost silently. A flood from
// more addresses than `max_keys` therefore logs more (each new key starts
// afresh), but never keeps more than `max_keys` entries.
//
//   static LogRateLimiter* const limiter = new LogRateLimiter({});
//   limiter->Log(IpOfAddress(address), clock.Now(), LogLevel::kInfo, "device_auth_failed",
//                {{"address", address}, {"reason", why}});
//
// Thread-safe (one mutex; the work under it is a hash lookup). Time comes
// from the caller, so tests drive it with a fake clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <list>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/log.h"

namespace hive {

// The IP part of an "ip:port" or "[v6]:port" address (the address itself
// when it has no port), the key a per-peer limit wants.
absl::string_view IpOfAddress(absl::string_view address);

class LogRateLimiter {
 public:
  struct Options {
    // Lines written per key in one interval (>= 1).
    int lines_per_interval = 5;
    // The interval, starting at a key's first line written in it.
    absl::Duration interval = absl::Minutes(1);
    // Keys remembered at once (>= 1); the least recently seen is forgotten.
    size_t max_keys = 1024;
  };

  // What to do with one line.
  struct Verdict {
    // Write the line.
    bool write = false;
    // Lines of this key suppressed since it last wrote one: when `write` and
    // non-zero, write their summary first.
    uint64_t suppressed_before = 0;
    // A key forgotten to make room that had suppressed lines: its summary is
    // owed too (empty key: none).
    std::string evicted_key;
    uint64_t evicted_suppressed = 0;
  };

  explicit LogRateLimiter(Options options);

  // Decides one line for `key` at `now`, and counts it.
  Verdict Admit(absl::string_view key, absl::Time now);

  // Admit, then writes the summary line and the line as it decides.
  void Log(absl::string_view key, absl::Time now, LogLevel level, absl::string_view event,
           std::initializer_list<LogField> fields);

  // Keys remembered now (at most max_keys).
  size_t size() const;

 private:
  struct Entry {
    absl::Time interval_start;
    int written = 0;
    uint64_t suppressed = 0;
    std::list<std::string>::iterator recency;  // into recency_
  };

  const Options options_;
  mutable absl::Mutex mu_;
  // Most recently seen first.
  std::list<std::string> recency_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hive

#include "bridge/log.h"

#include <atomic>
#include <cstdio>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace hive {
namespace {

std::atomic<LogLevel> min_level{LogLevel::kInfo};

constexpr absl::string_view kLevelNames[] = {"debug", "info", "warn", "error"};

bool NeedsQuotes(absl::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}

void AppendValue(std::string& line, absl::string_view value) {
  if (!NeedsQuotes(value)) {
    line.append(value.data(), value.size());
    return;
  }
  line.push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') {
      line.push_back('\\');
      line.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      line.push_back(' ');
    } else {
      line.push_back(c);
    }
  }
  line.push_back('"');
}

}  // namespace

void SetLogLevel(LogLevel level) { min_level.store(level, std::memory_order_relaxed); }

bool ParseLogLevel(absl::string_view name, LogLevel* level) {
  for (size_t i = 0; i < std::size(kLevelNames); ++i) {
    if (kLevelNames[i] == name) {
      *level = static_cast<LogLevel>(i);
      return true;
    }
  }
  return false;
}

void Log(LogLevel level, absl::string_view event, std::initializer_list<LogField> fields) {
  if (level < min_level.load(std::memory_order_relaxed)) return;
  std::string line = absl::StrCat("ts=", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
                                  " level=", kLevelNames[static_cast<int>(level)], " event=", event);
  for (const LogField& field : fields) {
    absl::StrAppend(&line, " ", field.key, "=");
    AppendValue(line, field.value.Piece());
  }
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);  // one write: lines never interleave
}

}  // namespace hive

#include "bridge/log.h"

#include <atomic>
#include <cstdio>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace hive {
namespace {

std::atomic<LogLevel> min_level{LogLevel::kInfo};
std::atomic<LogFormat> log_format{LogFormat::kLogfmt};

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

std::string Timestamp() { return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()); }

std::string LogfmtLine(LogLevel level, absl::string_view event, std::initializer_list<LogField> fields) {
  std::string line =
      absl::StrCat("ts=", Timestamp(), " level=", kLevelNames[static_cast<int>(level)], " event=", event);
  for (const LogField& field : fields) {
    absl::StrAppend(&line, " ", field.key, "=");
    AppendValue(line, field.value.Piece());
  }
  line.push_back('\n');
  return line;
}

// RapidJSON escapes; a value that is not UTF-8 is written with replacement
// characters rather than dropped (the writer validates nothing by default).
std::string JsonLine(LogLevel level, absl::string_view event, std::initializer_list<LogField> fields) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  const auto pair = [&writer](absl::string_view key, absl::string_view value) {
    writer.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    writer.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  writer.StartObject();
  pair("ts", Timestamp());
  pair("level", kLevelNames[static_cast<int>(level)]);
  pair("event", event);
  for (const LogField& field : fields) pair(field.key, field.value.Piece());
  writer.EndObject();
  std::string line(buffer.GetString(), buffer.GetSize());
  line.push_back('\n');
  return line;
}

}  // namespace

void SetLogFormat(LogFormat format) { log_format.store(format, std::memory_order_relaxed); }

bool ParseLogFormat(absl::string_view name, LogFormat* format) {
  if (name == "logfmt") {
    *format = LogFormat::kLogfmt;
  } else if (name == "json") {
    *format = LogFormat::kJson;
  } else {
    return false;
  }
  return true;
}

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
  const std::string line = log_format.load(std::memory_order_relaxed) == LogFormat::kJson
                               ? JsonLine(level, event, fields)
                               : LogfmtLine(level, event, fields);
  std::fwrite(line.data(), 1, line.size(), stderr);  // one write: lines never interleave
}

}  // namespace hive

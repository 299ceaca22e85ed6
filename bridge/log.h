// bridge/log.h
// Structured logs: one line per event, in logfmt (the default) or JSON
// (--log-format=json, one object per line, every value a string), with the
// ids that locate it and never a payload or a token.
//
//   Log(LogLevel::kInfo, "device_connected", {{"device", id}, {"account", account}});
//   → ts=2026-11-25T00:45:01.123Z level=info event=device_connected device=... account=...
//   → {"ts":"2026-11-25T00:45:01.123Z","level":"info","event":"device_connected","device":"...",...}
#pragma once

#include <initializer_list>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace hive {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
enum class LogFormat { kLogfmt, kJson };

struct LogField {
  absl::string_view key;
  absl::AlphaNum value;
};

// Lines below `level` are dropped. Thread-safe; defaults to kInfo.
void SetLogLevel(LogLevel level);
bool ParseLogLevel(absl::string_view name, LogLevel* level);
// Thread-safe; defaults to kLogfmt. "logfmt" or "json".
void SetLogFormat(LogFormat format);
bool ParseLogFormat(absl::string_view name, LogFormat* format);

// Writes one line to stderr (whole lines, never interleaved).
void Log(LogLevel level, absl::string_view event, std::initializer_list<LogField> fields = {});

}  // namespace hive

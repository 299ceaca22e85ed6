// cli/values.h
// The value syntaxes shared by every flag of the repository's executables,
// as plain functions from text to a typed value and back. Errors say what was
// expected and echo the text; the caller (cli::Flags) prefixes the flag or
// environment variable the text came from.
//
//   absl::StatusOr<absl::Duration> d = cli::ParseDurationValue("1m30s");  // 90s
//   absl::StatusOr<int64_t> n = cli::ParseByteSize("64KiB");             // 65536
//   cli::FormatByteSize(1 << 20);                                         // "1MiB"
//
// Durations are absl::ParseDuration's syntax with a unit on every number
// ("30s", "500ms", "1m30s", "0" and "inf" too); a bare "30" is refused, so one
// syntax holds for every duration flag. Byte sizes are a count of bytes, or a
// count with a KiB or MiB suffix.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace hive::cli {

// What --help and error messages call each syntax.
inline constexpr absl::string_view kDurationForm = "a duration such as 30s, 500ms or 1m30s";
inline constexpr absl::string_view kByteSizeForm = "a size such as 65536, 64KiB or 1MiB";

absl::StatusOr<absl::Duration> ParseDurationValue(absl::string_view text);
std::string FormatDurationValue(absl::Duration value);  // "30s", "1m30s", "0"

absl::StatusOr<int64_t> ParseByteSize(absl::string_view text);
std::string FormatByteSize(int64_t bytes);  // the largest exact unit: "1MiB", "64KiB", "1000"

// A decimal integer that fits int64_t (or uint64_t), no sign for uint64_t.
absl::StatusOr<int64_t> ParseInteger(absl::string_view text);
absl::StatusOr<uint64_t> ParseUnsigned(absl::string_view text);

// A finite decimal number.
absl::StatusOr<double> ParseNumber(absl::string_view text);

// "true" or "false" (also "1", "0", "yes", "no", "on", "off").
absl::StatusOr<bool> ParseBool(absl::string_view text);

}  // namespace hive::cli

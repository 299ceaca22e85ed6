#include "cli/values.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace hive::cli {
namespace {

constexpr int64_t kKiB = 1024;
constexpr int64_t kMiB = 1024 * kKiB;

std::string Quoted(absl::string_view text) { return absl::StrCat("\"", text, "\""); }

absl::Status Expected(absl::string_view form, absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat("expected ", form, ", got ", Quoted(text)));
}

bool AllDigits(absl::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return absl::ascii_isdigit(c); });
}

}  // namespace

absl::StatusOr<absl::Duration> ParseDurationValue(absl::string_view text) {
  absl::Duration value;
  if (!absl::ParseDuration(text, &value)) return Expected(kDurationForm, text);
  return value;
}

std::string FormatDurationValue(absl::Duration value) { return absl::FormatDuration(value); }

absl::StatusOr<int64_t> ParseByteSize(absl::string_view text) {
  absl::string_view digits = text;
  int64_t unit = 1;
  if (absl::ConsumeSuffix(&digits, "KiB")) {
    unit = kKiB;
  } else if (absl::ConsumeSuffix(&digits, "MiB")) {
    unit = kMiB;
  }
  int64_t count = 0;
  if (!AllDigits(digits) || !absl::SimpleAtoi(digits, &count) || count > INT64_MAX / unit) {
    return Expected(kByteSizeForm, text);
  }
  return count * unit;
}

std::string FormatByteSize(int64_t bytes) {
  if (bytes != 0 && bytes % kMiB == 0) return absl::StrCat(bytes / kMiB, "MiB");
  if (bytes != 0 && bytes % kKiB == 0) return absl::StrCat(bytes / kKiB, "KiB");
  return absl::StrCat(bytes);
}

absl::StatusOr<int64_t> ParseInteger(absl::string_view text) {
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) return Expected("an integer", text);
  return value;
}

absl::StatusOr<uint64_t> ParseUnsigned(absl::string_view text) {
  uint64_t value = 0;
  if (!AllDigits(text) || !absl::SimpleAtoi(text, &value)) return Expected("a non-negative integer", text);
  return value;
}

absl::StatusOr<double> ParseNumber(absl::string_view text) {
  double value = 0;
  if (!absl::SimpleAtod(text, &value) || !std::isfinite(value)) return Expected("a number", text);
  return value;
}

absl::StatusOr<bool> ParseBool(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "0" || lower == "no" || lower == "off") return false;
  return Expected("true or false", text);
}

}  // namespace hive::cli

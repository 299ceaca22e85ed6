#include "tests/integration/support/process_stats.h"

#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/integration/support/child_process.h"

namespace hive::integration {
namespace {

std::optional<uint64_t> StatusFieldKib(const std::string& status, absl::string_view field) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, field) || !absl::ConsumePrefix(&line, ":")) continue;
    uint64_t kib = 0;
    if (absl::SimpleAtoi(absl::StripSuffix(absl::StripAsciiWhitespace(line), " kB"), &kib)) return kib;
  }
  return std::nullopt;
}

// utime + stime, fields 14 and 15 of /proc/<pid>/stat (counted after the
// command name, which may hold spaces and ends at the last ')').
std::optional<absl::Duration> CpuTime(const std::string& stat) {
  const size_t name_end = stat.rfind(')');
  if (name_end == std::string::npos) return std::nullopt;
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(name_end + 2), ' ', absl::SkipEmpty());
  // After the name: state is field 3, so utime (14) is index 11.
  uint64_t user = 0;
  uint64_t system = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &user) || !absl::SimpleAtoi(fields[12], &system)) {
    return std::nullopt;
  }
  static const long ticks_per_second = sysconf(_SC_CLK_TCK);
  return absl::Seconds(static_cast<double>(user + system) / static_cast<double>(ticks_per_second));
}

}  // namespace

std::optional<ProcessStats> ReadProcessStats(pid_t pid) {
  const std::string proc = absl::StrCat("/proc/", pid);
  std::optional<uint64_t> rss = StatusFieldKib(ReadFile(proc + "/status"), "VmRSS");
  std::optional<absl::Duration> cpu = CpuTime(ReadFile(proc + "/stat"));
  if (!rss.has_value() || !cpu.has_value()) return std::nullopt;
  ProcessStats stats;
  stats.rss_kib = *rss;
  stats.cpu_time = *cpu;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(proc + "/fd", ec), end; !ec && it != end; it.increment(ec)) {
    ++stats.open_fds;
  }
  if (ec) return std::nullopt;
  return stats;
}

}  // namespace hive::integration

#include "server/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "server/proc_file.h"

namespace hive::server {
namespace {

prometheus::MetricFamily Family(const char* name, const char* help, prometheus::MetricType type, double value) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(metric);
  return family;
}

// The fields of /proc/self/stat after the command name, which is in
// parentheses and may itself hold spaces or parentheses: field 3 (state) is
// fields[0].
std::vector<std::string> StatFields() {
  const std::optional<std::string> stat = ReadProcFile("/proc/self/stat");
  if (!stat) return {};
  const size_t close = stat->rfind(')');
  if (close == std::string::npos) return {};
  return absl::StrSplit(absl::string_view(*stat).substr(close + 1), ' ', absl::SkipEmpty());
}

// Field `number` of proc(5)'s /proc/[pid]/stat (1-based, as the man page counts).
std::optional<double> StatField(const std::vector<std::string>& fields, size_t number) {
  const size_t index = number - 3;
  double value = 0;
  if (index >= fields.size() || !absl::SimpleAtod(fields[index], &value)) return std::nullopt;
  return value;
}

// The machine's boot time, seconds since the epoch (/proc/stat's btime).
std::optional<double> BootTime() {
  const std::optional<std::string> stat = ReadProcFile("/proc/stat");
  if (!stat) return std::nullopt;
  for (absl::string_view line : absl::StrSplit(*stat, '\n')) {
    double value = 0;
    if (absl::ConsumePrefix(&line, "btime ") && absl::SimpleAtod(line, &value)) return value;
  }
  return std::nullopt;
}

// Entries of /proc/self/fd, less the one the listing itself holds open.
std::optional<double> OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  double count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;
}

}  // namespace

std::vector<prometheus::MetricFamily> ProcessMetrics::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;
  const std::vector<std::string> fields = StatFields();
  const auto ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const std::optional<double> utime = StatField(fields, 14);
  const std::optional<double> stime = StatField(fields, 15);
  if (utime && stime && ticks > 0) {
    families.push_back(Family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                              MetricType::Counter, (*utime + *stime) / ticks));
  }
  if (const std::optional<double> rss = StatField(fields, 24)) {
    families.push_back(Family("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge,
                              *rss * static_cast<double>(sysconf(_SC_PAGESIZE))));
  }
  if (const std::optional<double> vsize = StatField(fields, 23)) {
    families.push_back(
        Family("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge, *vsize));
  }
  const std::optional<double> started = StatField(fields, 22);
  const std::optional<double> boot = BootTime();
  if (started && boot && ticks > 0) {
    families.push_back(Family("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                              MetricType::Gauge, *boot + *started / ticks));
  }
  if (const std::optional<double> open = OpenFds()) {
    families.push_back(Family("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, *open));
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    families.push_back(Family("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
                              static_cast<double>(limit.rlim_cur)));
  }
  return families;
}

}  // namespace hive::server

// hive-loadgen: load for a hivebridge, or with --echo for the baseline echo
// servers, printing one JSON line of results on stdout. See
// `hive-loadgen --help` and the mode headers: request_load.h,
// fanout_load.h, connection_scale.h, queued_delivery.h, job_dispatch.h.
//
// Exit status: 0 with results; 1 when the run could not be made (server
// unreachable, devices not ready); 2 for bad options.
#include <unistd.h>  // environ

#include <csignal>
#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "bridge/log.h"
#include "clients/loadgen/connection_scale.h"
#include "clients/loadgen/fanout_load.h"
#include "clients/loadgen/job_dispatch.h"
#include "clients/loadgen/json_out.h"
#include "clients/loadgen/loadgen_options.h"
#include "clients/loadgen/queued_delivery.h"
#include "clients/loadgen/request_load.h"

namespace hive::loadgen {
namespace {

template <typename Result>
int Report(const LoadgenOptions& options, const absl::StatusOr<Result>& result) {
  if (!result.ok()) {
    std::fprintf(stderr, "hive-loadgen: %s\n", result.status().ToString().c_str());
    return 1;
  }
  JsonOut out;
  out.Field("mode", ModeName(options.mode)).Field("target", options.echo ? "echo" : "bridge");
  result->AppendTo(out);
  std::puts(out.Close().c_str());
  std::fflush(stdout);
  return 0;
}

int Run(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  absl::StatusOr<LoadgenOptions> options = ParseLoadgenOptions(argc, argv, environ);
  if (absl::IsCancelled(options.status())) {  // --help
    std::fputs(std::string(options.status().message()).c_str(), stdout);
    return 0;
  }
  if (!options.ok()) {
    std::fprintf(stderr, "hive-loadgen: %s\n", std::string(options.status().message()).c_str());
    return 2;
  }
  // The simulator's per-connection logs would be noise here: the results
  // count failures.
  SetLogLevel(LogLevel::kError);
  switch (options->mode) {
    case Mode::kRequest:
      return Report(*options, RunRequestLoad(*options));
    case Mode::kFanout:
      return Report(*options, RunFanoutLoad(*options));
    case Mode::kScale:
      return Report(*options, RunConnectionScale(*options));
    case Mode::kQueue:
      return Report(*options, RunQueuedDelivery(*options));
    case Mode::kJob:
      return Report(*options, RunJobDispatch(*options));
  }
  return 2;
}

}  // namespace
}  // namespace hive::loadgen

int main(int argc, char** argv) { return hive::loadgen::Run(argc, argv); }

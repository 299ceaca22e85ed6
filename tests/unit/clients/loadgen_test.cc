// hive-loadgen's options: the shared flag syntax (cli/flags.h), the
// HIVE_LOADGEN_* variables and the checks that need several flags.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "clients/device_sim/derived_ids.h"
#include "clients/loadgen/loadgen_options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/support/command_line.h"

namespace hive::loadgen {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;

// `env` holds "NAME=value" entries, as `environ` does.
absl::StatusOr<LoadgenOptions> Parse(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  const hive::testing::CommandLine line("hive-loadgen", args, env);
  return ParseLoadgenOptions(line.argc(), line.argv(), line.envp());
}

TEST(LoadgenOptions, DefaultsDeriveTheSimulatorsDeviceIds) {
  absl::StatusOr<LoadgenOptions> options = Parse({"--devices=3"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->mode, Mode::kRequest);
  EXPECT_EQ(options->warmup, absl::Seconds(2));
  EXPECT_EQ(options->duration, absl::Seconds(10));
  ASSERT_EQ(options->device_ids.size(), 3u);
  EXPECT_EQ(options->device_ids[2], sim::DerivedUuid(1, "device", 2));
}

TEST(LoadgenOptions, ReadsFlagsWithDashesOrUnderscores) {
  absl::StatusOr<LoadgenOptions> options =
      Parse({"--mode=fanout", "--ws_url=ws://127.0.0.2:1/,ws://127.0.0.3:1/", "--jwt-secret-file", "/s", "--warmup=0s",
             "--duration=1m30s", "--event_timeout=250ms", "--echo", "--subscribers=0", "--connect-rate=2.5",
             "--device-ids=D88F322F-D0AA-4A3C-8564-6EBE0F7EBB3B"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->mode, Mode::kFanout);
  EXPECT_EQ(options->ws_urls, (std::vector<std::string>{"ws://127.0.0.2:1/", "ws://127.0.0.3:1/"}));
  EXPECT_EQ(options->warmup, absl::ZeroDuration());
  EXPECT_EQ(options->duration, absl::Seconds(90));
  EXPECT_EQ(options->event_timeout, absl::Milliseconds(250));
  EXPECT_TRUE(options->echo);
  EXPECT_EQ(options->connect_rate, 2.5);
  EXPECT_EQ(options->device_ids.size(), 1u);
}

TEST(LoadgenOptions, RefusesBadValuesNamingTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--duration=10"}, R"(--duration: expected a duration such as 30s, 500ms or 1m30s, got "10")"},
      {{"--duration=0s"}, "--duration: must be between 1ms and 24h, got 0s"},
      {{"--mode=soak"}, R"(--mode: expected one of request, fanout, scale, queue, job, got "soak")"},
      {{"--channels=0"}, "--channels: must be between 1 and 100000, got 0"},
      {{"--device-ids=nope"}, R"(--device-ids: expected UUIDs, got "nope")"},
      {{"--mode=scale"}, "--jwt-secret-file: required: the devices mint their tokens with it"},
      {{"--mode=queue"}, "--jwt-secret-file: required: the devices mint their tokens with it"},
      {{"--mode=queue", "--echo"},
       "--echo: queue mode has no echo baseline: it measures its baseline, live requests, on the bridge"},
      {{"--mode=queue", "--jwt-secret-file=/s", "--queued=0"}, "--queued: must be between 1 and 10000000, got 0"},
      {{"--mode=job"}, "--jwt-secret-file: required: the devices mint their tokens with it"},
      {{"--mode=job", "--jwt-secret-file=/s", "--echo"},
       "--echo: job mode has no echo baseline: it measures its baseline, live requests, on the bridge"},
      {{"--mode=job", "--jwt-secret-file=/s", "--job-target=everyone"},
       R"(--job-target: expected one of selector, devices, got "everyone")"},
      {{"--mode=job", "--jwt-secret-file=/s", "--job-timeout=0s"}, "--job-timeout: must be between 1s and 24h, got 0s"},
      {{"--mode=fanout", "--jwt-secret-file=/s", "--subscribers=0"},
       "--subscribers: fanout against a bridge needs at least one subscriber"},
      {{"--frobnicate"}, "--frobnicate: unknown flag; see --help"},
      {{"--server"}, "--server: missing value"},
  };
  for (const auto& [args, message] : cases) {
    EXPECT_EQ(Parse(args).status(), absl::InvalidArgumentError(message)) << args[0];
  }
}

TEST(LoadgenOptions, JobModeTakesItsTargetAndTimeout) {
  absl::StatusOr<LoadgenOptions> defaults = Parse({"--mode=job", "--jwt-secret-file=/s"});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->mode, Mode::kJob);
  EXPECT_EQ(defaults->job_target, JobTarget::kSelector);
  EXPECT_EQ(defaults->job_timeout, absl::Seconds(120));
  absl::StatusOr<LoadgenOptions> options = Parse({"--mode=job", "--jwt-secret-file=/s", "--job-target=devices",
                                                  "--job_timeout=45s", "--devices=2000", "--concurrency=64"},
                                                 {"HIVE_LOADGEN_JOB_TARGET=selector"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->job_target, JobTarget::kDevices);
  EXPECT_EQ(options->job_timeout, absl::Seconds(45));
  EXPECT_EQ(options->devices, 2000);
  EXPECT_EQ(options->concurrency, 64);
  EXPECT_STREQ(ModeName(options->mode), "job");
}

TEST(LoadgenOptions, ReadsHiveLoadgenVariablesAndTheFlagWins) {
  absl::StatusOr<LoadgenOptions> options =
      Parse({"--concurrency=4"}, {"HIVE_LOADGEN_CONCURRENCY=lots", "HIVE_LOADGEN_DURATION=3s",
                                  "HIVE_LOADGEN_SERVER=10.0.0.1:9090", "HIVE_LOADGEN_ECHO=true"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->concurrency, 4);
  EXPECT_EQ(options->duration, absl::Seconds(3));
  EXPECT_EQ(options->server, "10.0.0.1:9090");
  EXPECT_TRUE(options->echo);
  EXPECT_EQ(
      Parse({}, {"HIVE_LOADGEN_WARMUP=2"}).status(),
      absl::InvalidArgumentError(R"(HIVE_LOADGEN_WARMUP: expected a duration such as 30s, 500ms or 1m30s, got "2")"));
}

TEST(LoadgenOptions, HelpListsEveryFlagWithinOneHundredColumns) {
  absl::StatusOr<LoadgenOptions> options = Parse({"--help"});
  ASSERT_TRUE(absl::IsCancelled(options.status()));
  const std::string help(options.status().message());
  EXPECT_EQ(help, LoadgenOptionsHelp());
  for (absl::string_view line : absl::StrSplit(help, '\n')) EXPECT_LE(line.size(), 100u) << line;
  for (absl::string_view flag : {"--mode=request|fanout|scale|queue|job",
                                 "--[no-]echo",
                                 "--server=",
                                 "--ws-url=",
                                 "--warmup=DURATION",
                                 "--duration=DURATION",
                                 "--channels=N",
                                 "--concurrency=N",
                                 "--request-timeout=DURATION",
                                 "--device-ids=",
                                 "--devices=N",
                                 "--queued=N",
                                 "--job-target=selector|devices",
                                 "--job-timeout=DURATION",
                                 "--device-seed=N",
                                 "--subscribers=N",
                                 "--emitters=N",
                                 "--window=N",
                                 "--event-timeout=DURATION",
                                 "--emitter-seed=N",
                                 "--jwt-secret-file=PATH",
                                 "--connect-rate=R",
                                 "--sim-threads=N",
                                 "--server-pid=N",
                                 "--settle=DURATION",
                                 "--connect-timeout=DURATION"}) {
    EXPECT_THAT(help, HasSubstr(flag));
  }
  // The default, then the variable, wherever the help wraps the line.
  EXPECT_THAT(help, ContainsRegex(R"(--duration=DURATION +the measured window \[default: 10s\][[:space:]]+)"
                                  R"(\[env: HIVE_LOADGEN_DURATION\])"));
}

}  // namespace
}  // namespace hive::loadgen

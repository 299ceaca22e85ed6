#include "cli/flags.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "cli/help_formatter.h"
#include "cli/values.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/support/command_line.h"

namespace hive::cli {
namespace {

using ::testing::HasSubstr;

struct Options {
  absl::Duration timeout = absl::Seconds(10);
  size_t queue = 256;
  size_t max_bytes = 1 << 20;
  bool quiet = false;
  std::string name = "hive";
  std::vector<std::string> urls = {"ws://a"};
  double rate = 1.5;
};

// Binds every kind of flag to `options` under the prefix HIVE_T_.
void AddAll(Flags& flags, Options& options) {
  flags.AddDuration("timeout", &options.timeout, absl::Milliseconds(100), absl::Minutes(10), "how long");
  flags.AddInteger<size_t>("queue", &options.queue, 1, 65536, "frames queued");
  flags.AddByteSize("max-bytes", &options.max_bytes, 1024, 64 << 20, "largest frame");
  flags.AddSwitch("quiet", &options.quiet, "say less");
  flags.AddString("name", &options.name, "NAME", "a name");
  flags.AddList("urls", &options.urls, "URL[,URL...]", "where");
  flags.AddNumber("rate", &options.rate, 0, 100, "per second");
}

absl::Status Parse(Options& options, const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  Flags flags("t", "HIVE_T_");
  flags.AcceptUnderscores();
  AddAll(flags, options);
  const hive::testing::CommandLine line("t", args, env);
  return flags.Parse(line.argc(), line.argv(), line.envp());
}

TEST(CliValues, DurationsTakeAUnitOnEveryNumber) {
  EXPECT_EQ(ParseDurationValue("1m30s").value(), absl::Seconds(90));
  EXPECT_EQ(ParseDurationValue("500ms").value(), absl::Milliseconds(500));
  EXPECT_EQ(ParseDurationValue("30").status(),
            absl::InvalidArgumentError(R"(expected a duration such as 30s, 500ms or 1m30s, got "30")"));
  EXPECT_EQ(FormatDurationValue(absl::Seconds(90)), "1m30s");
}

TEST(CliValues, ByteSizesTakeKiBOrMiB) {
  EXPECT_EQ(ParseByteSize("64KiB").value(), 65536);
  EXPECT_EQ(ParseByteSize("1000").value(), 1000);
  EXPECT_FALSE(ParseByteSize("1MB").ok());
  EXPECT_FALSE(ParseByteSize("-1KiB").ok());
  EXPECT_EQ(FormatByteSize(1 << 20), "1MiB");
}

TEST(CliFlags, ParsesEveryKindInBothSpellings) {
  Options options;
  ASSERT_EQ(Parse(options, {"--timeout=1m30s", "--queue", "7", "--max_bytes=64KiB", "--quiet", "--name", "x",
                            "--urls=ws://1,ws://2", "--rate", "2.5"}),
            absl::OkStatus());
  EXPECT_EQ(options.timeout, absl::Seconds(90));
  EXPECT_EQ(options.queue, 7u);
  EXPECT_EQ(options.max_bytes, 65536u);
  EXPECT_TRUE(options.quiet);
  EXPECT_EQ(options.name, "x");
  EXPECT_EQ(options.urls, (std::vector<std::string>{"ws://1", "ws://2"}));
  EXPECT_EQ(options.rate, 2.5);
}

TEST(CliFlags, SwitchesTakeNoFormAndBooleans) {
  Options options;
  options.quiet = true;
  ASSERT_EQ(Parse(options, {"--no-quiet"}), absl::OkStatus());
  EXPECT_FALSE(options.quiet);
  ASSERT_EQ(Parse(options, {"--quiet=true"}), absl::OkStatus());
  EXPECT_TRUE(options.quiet);
  EXPECT_EQ(Parse(options, {"--quiet=maybe"}),
            absl::InvalidArgumentError(R"(--quiet: expected true or false, got "maybe")"));
}

TEST(CliFlags, EnvironmentFillsInAndTheFlagWins) {
  Options options;
  ASSERT_EQ(Parse(options, {"--timeout=2s"}, {"HIVE_T_TIMEOUT=soon", "HIVE_T_QUEUE=9", "HIVE_T_QUIET=true"}),
            absl::OkStatus());
  EXPECT_EQ(options.timeout, absl::Seconds(2));  // the bad variable is never read
  EXPECT_EQ(options.queue, 9u);
  EXPECT_TRUE(options.quiet);
}

TEST(CliFlags, ErrorsNameTheFlagOrVariableAndTheAcceptedForm) {
  Options options;
  EXPECT_EQ(Parse(options, {"--timeout=10"}),
            absl::InvalidArgumentError(R"(--timeout: expected a duration such as 30s, 500ms or 1m30s, got "10")"));
  EXPECT_EQ(Parse(options, {"--timeout=20m"}),
            absl::InvalidArgumentError("--timeout: must be between 100ms and 10m, got 20m"));
  EXPECT_EQ(Parse(options, {}, {"HIVE_T_QUEUE=0"}),
            absl::InvalidArgumentError("HIVE_T_QUEUE: must be between 1 and 65536, got 0"));
  EXPECT_EQ(Parse(options, {"--nope=1"}), absl::InvalidArgumentError("--nope: unknown flag; see --help"));
  EXPECT_EQ(Parse(options, {"stray"}), absl::InvalidArgumentError(R"(unexpected argument "stray"; see --help)"));
  EXPECT_EQ(Parse(options, {"--name", "--quiet"}), absl::InvalidArgumentError("--name: missing value"));
  EXPECT_EQ(Parse(options, {"--queue"}), absl::InvalidArgumentError("--queue: missing value"));
}

TEST(CliFlags, RepeatedFlagKeepsTheLastValue) {
  Options options;
  ASSERT_EQ(Parse(options, {"--queue=3", "--queue", "4"}), absl::OkStatus());
  EXPECT_EQ(options.queue, 4u);
}

TEST(CliFlags, HelpListsDefaultsAndVariablesWithinOneHundredColumns) {
  Options options;
  Flags flags("t", "HIVE_T_");
  flags.SetDescription(std::string(300, 'x') + " and words that go on well past one hundred columns " +
                       "so that the description has to wrap at least once or twice");
  AddAll(flags, options);
  flags.AddDuration("a-flag-whose-name-is-very-long-indeed", &options.timeout, absl::ZeroDuration(),
                    absl::InfiniteDuration(), std::string(40, 'w') + " " + std::string(40, 'w'));
  const char* argv[] = {"t", "--help"};
  const absl::Status status = flags.Parse(2, argv, nullptr);
  ASSERT_TRUE(absl::IsCancelled(status));
  const std::string help(status.message());
  EXPECT_EQ(help, flags.Help());
  EXPECT_THAT(help, HasSubstr("--timeout=DURATION"));
  EXPECT_THAT(help, HasSubstr("[default: 10s] [env: HIVE_T_TIMEOUT]"));
  EXPECT_THAT(help, HasSubstr("--[no-]quiet"));
  EXPECT_THAT(help, HasSubstr("[default: 1MiB]"));
  for (absl::string_view line : absl::StrSplit(help, '\n')) {
    if (line.find_first_not_of('x') == absl::string_view::npos) continue;  // the one unbreakable word
    EXPECT_LE(line.size(), Flags::kHelpWidth) << line;
  }
}

TEST(CliHelpFormatter, WrapsEachLineKeepingItsIndent) {
  EXPECT_EQ(WrapText("  aaa bbb ccc", 9, 2), "  aaa bbb\n    ccc");
  EXPECT_EQ(WrapText("short\nlines", 9), "short\nlines");
}

}  // namespace
}  // namespace hive::cli

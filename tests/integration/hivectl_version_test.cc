// `hivectl --version` reports the release of hivebridge it belongs to: the
// real hivectl and hivebridge binaries print the same version, each after
// its own name, and exit 0.
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "bridge/uuid.h"
#include "gtest/gtest.h"
#include "tests/integration/support/child_process.h"
#include "tests/integration/support/run_command.h"

namespace hive::integration {
namespace {

struct Printed {
  int exit = -1;
  std::string output;
};

Printed RunTool(std::vector<std::string> args) {
  const std::string log = absl::StrCat(::testing::TempDir(), "/version-", NewUuid());
  absl::StatusOr<int> exit = RunCommand(std::move(args), {}, log);
  Printed printed;
  printed.output = ReadFile(log);
  std::remove(log.c_str());
  EXPECT_TRUE(exit.ok()) << exit.status();
  if (exit.ok()) printed.exit = *exit;
  return printed;
}

TEST(HivectlVersionTest, PrintsTheVersionTheBridgeReports) {
  const Printed bridge = RunTool({HIVEBRIDGE_BINARY, "--version"});
  const Printed hivectl = RunTool({HIVECTL_BINARY, "--version"});

  ASSERT_EQ(bridge.exit, 0) << bridge.output;
  ASSERT_EQ(hivectl.exit, 0) << hivectl.output;
  absl::string_view bridge_version = bridge.output;
  ASSERT_TRUE(absl::ConsumePrefix(&bridge_version, "hivebridge ")) << bridge.output;
  bridge_version = absl::StripTrailingAsciiWhitespace(bridge_version);
  ASSERT_FALSE(bridge_version.empty());
  EXPECT_EQ(hivectl.output, absl::StrCat("hivectl ", bridge_version, "\n"));
}

TEST(HivectlVersionTest, ComesBeforeTheCommandAndIsNoOptionOfOneThatHasNone) {
  const Printed after_globals = RunTool({HIVECTL_BINARY, "--server", "127.0.0.1:1", "--version"});
  EXPECT_EQ(after_globals.exit, 0) << after_globals.output;
  EXPECT_TRUE(absl::StartsWith(after_globals.output, "hivectl ")) << after_globals.output;

  const Printed misplaced = RunTool({HIVECTL_BINARY, "cancel", "8813b625-e219-4390-9a7b-fe0e22c9e50b", "--version"});
  EXPECT_EQ(misplaced.exit, 2) << misplaced.output;
  EXPECT_EQ(misplaced.output, "hivectl: --version: not an option of \"hivectl cancel\"\n");
}

}  // namespace
}  // namespace hive::integration

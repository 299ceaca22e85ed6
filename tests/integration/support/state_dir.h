// tests/integration/support/state_dir.h
// A directory for a bridge's --state-dir that outlives the bridges a test
// starts on it (a restart finds what the previous one stored); removed with
// the test.
//
//   StateDir state;
//   StartOwnBridge({state.flag()});
#pragma once

#include <filesystem>
#include <string>

#include "bridge/uuid.h"
#include "gtest/gtest.h"

namespace hive::integration {

class StateDir {
 public:
  StateDir() : path_(::testing::TempDir() + "/hivebridge-state-" + NewUuid()) {}
  ~StateDir() { std::filesystem::remove_all(path_); }
  StateDir(const StateDir&) = delete;
  StateDir& operator=(const StateDir&) = delete;

  const std::string& path() const { return path_; }
  std::string flag() const { return "--state-dir=" + path_; }

 private:
  const std::string path_;
};

}  // namespace hive::integration

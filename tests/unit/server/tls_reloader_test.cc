// TlsReloader: SIGHUP (ReloadAll) reloads every target; the poll reloads a
// target when one of its files changes, and a target whose reload failed is
// not tried again until its files change again (a broken file is refused
// once, not at every poll).
#include "server/tls_reloader.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "bridge/uuid.h"
#include "gtest/gtest.h"

namespace hive::server {
namespace {

// Bounds a hang only: the poll runs every millisecond.
constexpr absl::Duration kHang = absl::Seconds(30);
constexpr absl::Duration kPoll = absl::Milliseconds(1);

// A reload that counts its calls and returns `status`.
std::function<absl::Status()> Counting(std::atomic<int>& count, const absl::Status& status = absl::OkStatus()) {
  return [&count, status] {
    ++count;
    return status;
  };
}

bool Eventually(const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + kHang;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

class TlsReloaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_);
    for (const char* name : {"a.pem", "b.pem"}) Touch(name, "first");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  // A new file renamed over the old one, as a Secret update or cert-manager does.
  void Touch(const std::string& name, const std::string& contents) {
    std::ofstream(path(name) + ".new", std::ios::trunc) << contents;
    std::filesystem::rename(path(name) + ".new", path(name));
  }

  const std::string dir_ = ::testing::TempDir() + "/tls-reloader-" + NewUuid();
  std::atomic<int> a_reloads_{0};
  std::atomic<int> b_reloads_{0};
};

TEST_F(TlsReloaderTest, ReloadAllReloadsEveryTargetChangedOrNot) {
  TlsReloader reloader(
      {{"wss", {path("a.pem")}, Counting(a_reloads_)}, {"grpc", {path("b.pem")}, Counting(b_reloads_)}},
      absl::ZeroDuration());

  reloader.ReloadAll();
  reloader.ReloadAll();

  EXPECT_EQ(a_reloads_, 2);
  EXPECT_EQ(b_reloads_, 2);
}

TEST_F(TlsReloaderTest, PollReloadsOnlyTheTargetWhoseFileChanged) {
  TlsReloader reloader(
      {{"wss", {path("a.pem")}, Counting(a_reloads_)}, {"grpc", {path("b.pem")}, Counting(b_reloads_)}}, kPoll);

  Touch("b.pem", "second");

  ASSERT_TRUE(Eventually([&] { return b_reloads_ == 1; }));
  // The poll that reloaded b also looked at a (a comes first).
  EXPECT_EQ(a_reloads_, 0);
}

TEST_F(TlsReloaderTest, FailedReloadIsNotRetriedUntilItsFilesChangeAgain) {
  TlsReloader reloader(
      {{"wss", {path("a.pem")}, Counting(a_reloads_, absl::InvalidArgumentError("--tls-cert: a.pem: garbage"))},
       {"grpc", {path("b.pem")}, Counting(b_reloads_)}},
      kPoll);

  Touch("a.pem", "broken");
  ASSERT_TRUE(Eventually([&] { return a_reloads_ == 1; }));
  // Barriers: each reload of b comes from a later poll, which saw a too.
  for (int round = 1; round <= 3; ++round) {
    Touch("b.pem", "round " + std::to_string(round));
    ASSERT_TRUE(Eventually([&] { return b_reloads_ == round; })) << round;
  }
  EXPECT_EQ(a_reloads_, 1);

  Touch("a.pem", "fixed");
  EXPECT_TRUE(Eventually([&] { return a_reloads_ == 2; }));
}

}  // namespace
}  // namespace hive::server

#include "tests/integration/support/bridge_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/integration/support/child_process.h"
#include "tests/unit/support/test_tokens.h"

namespace hive::integration {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(10);
constexpr absl::Duration kPollStep = absl::Milliseconds(5);
constexpr int kStartAttempts = 3;

std::string RandomHex(size_t bytes) {
  std::random_device random;
  std::string hex;
  for (size_t i = 0; i < bytes; ++i) absl::StrAppend(&hex, absl::Hex(random() & 0xff, absl::kZeroPad2));
  return hex;
}

// The value of `key` in a log line: `key=` in logfmt (unquoted values
// only), or the member `key` of a --log-format=json line.
std::string LogField(absl::string_view line, absl::string_view key) {
  if (absl::StartsWith(line, "{")) {
    rapidjson::Document doc;
    doc.Parse(line.data(), line.size());
    if (doc.HasParseError() || !doc.IsObject()) return {};
    const std::string name(key);
    const auto member = doc.FindMember(name.c_str());
    if (member == doc.MemberEnd() || !member->value.IsString()) return {};
    return member->value.GetString();
  }
  const std::string needle = absl::StrCat(" ", key, "=");
  const size_t at = line.find(needle);
  if (at == absl::string_view::npos) return {};
  absl::string_view value = line.substr(at + needle.size());
  return std::string(value.substr(0, value.find(' ')));
}

// The environment minus HIVEBRIDGE_* variables, so only the flags configure
// the server under test.
std::vector<std::string> HermeticEnvironment() {
  std::vector<std::string> env;
  for (char** var = environ; *var != nullptr; ++var) {
    if (!absl::StartsWith(*var, "HIVEBRIDGE_")) env.emplace_back(*var);
  }
  return env;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BridgeProcess>> BridgeProcess::Start(const std::vector<std::string>& extra_flags,
                                                                    ChildLimits limits) {
  std::unique_ptr<BridgeProcess> process(new BridgeProcess(limits));
  std::string dir_template = ::testing::TempDir() + "hivebridge-it.XXXXXX";
  if (mkdtemp(dir_template.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", dir_template, ": ", std::strerror(errno)));
  }
  process->dir_ = dir_template;
  process->log_path_ = process->dir_ + "/hivebridge.log";
  process->secret_path_ = process->dir_ + "/jwt-secret";
  process->secret_ = RandomHex(32);
  std::ofstream(process->secret_path_) << process->secret_ << "\n";

  absl::Status launched;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    launched = process->Launch(extra_flags);
    if (launched.ok()) break;
  }
  if (!launched.ok()) return launched;
  process->channel_ =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", process->grpc_port_), grpc::InsecureChannelCredentials());
  return process;
}

absl::Status BridgeProcess::Launch(const std::vector<std::string>& extra_flags) {
  absl::StatusOr<int> ws_port = PickFreePort();
  if (!ws_port.ok()) return ws_port.status();
  absl::StatusOr<int> grpc_port = PickFreePort();
  if (grpc_port.ok() && *grpc_port == *ws_port) grpc_port = PickFreePort();
  if (!grpc_port.ok()) return grpc_port.status();
  ws_port_ = *ws_port;
  grpc_port_ = *grpc_port;
  exit_status_.reset();
  if (absl::Status spawned = Spawn(extra_flags); !spawned.ok()) return spawned;
  absl::Status started = AwaitStarted(kStartTimeout);
  if (!started.ok() && running()) {
    kill(pid_, SIGKILL);
    Wait(kStartTimeout);
  }
  return started;
}

absl::Status BridgeProcess::Spawn(const std::vector<std::string>& extra_flags) {
  std::vector<std::string> args = {HIVEBRIDGE_BINARY, absl::StrCat("--ws-listen=127.0.0.1:", ws_port_),
                                   absl::StrCat("--grpc-listen=127.0.0.1:", grpc_port_), "--io-threads=2",
                                   absl::StrCat("--jwt-secret-file=", secret_path_)};
  args.insert(args.end(), extra_flags.begin(), extra_flags.end());
  // Emptied first: a start retried on new ports logs afresh.
  std::ofstream truncate(log_path_, std::ios::trunc);
  absl::StatusOr<pid_t> pid = SpawnChild(std::move(args), HermeticEnvironment(), log_path_, limits_);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  return absl::OkStatus();
}

absl::Status BridgeProcess::AwaitStarted(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    for (absl::string_view line : absl::StrSplit(Log(), '\n')) {
      if (LogField(line, "event") != "started" && !absl::StrContains(line, " event=started")) continue;
      int ws_port = 0;
      int grpc_port = 0;
      if (!absl::SimpleAtoi(LogField(line, "ws_port"), &ws_port) ||
          !absl::SimpleAtoi(LogField(line, "grpc_port"), &grpc_port) || ws_port != ws_port_ ||
          grpc_port != grpc_port_) {
        return absl::InternalError(absl::StrCat("unexpected started line: ", line));
      }
      epoch_ = LogField(line, "epoch");
      if (!absl::SimpleAtoi(LogField(line, "http_port"), &http_port_)) http_port_ = 0;
      return absl::OkStatus();
    }
    if (!running()) {
      return absl::InternalError(
          absl::StrCat("hivebridge exited with status ", *exit_status_, " before it started; log:\n", Log()));
    }
    absl::SleepFor(kPollStep);
  }
  return absl::DeadlineExceededError(
      absl::StrCat("hivebridge did not start within ", absl::FormatDuration(timeout), "; log:\n", Log()));
}

BridgeProcess::~BridgeProcess() {
  if (pid_ > 0 && running()) {
    kill(pid_, SIGKILL);
    Wait(absl::Seconds(10));
  }
  // In a sanitizer build (make test-asan, make test-tsan) a report in the
  // server fails the test that ran it, even when the test saw nothing amiss.
  if (const std::string log = log_path_.empty() ? "" : Log();
      absl::StrContains(log, "Sanitizer:") || absl::StrContains(log, ": runtime error: ")) {
    ADD_FAILURE() << "hivebridge reported a sanitizer error; log:\n" << log;
  }
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

std::string BridgeProcess::ws_url() const { return absl::StrCat("ws://127.0.0.1:", ws_port_, "/v1/devices"); }

std::string BridgeProcess::MintToken(absl::string_view device_id, absl::string_view account_id,
                                     absl::Duration ttl) const {
  return hive::testing::MintHs256(secret_, device_id, account_id, absl::Now() + ttl);
}

std::unique_ptr<DeviceBridge::Stub> BridgeProcess::NewStub() const { return DeviceBridge::NewStub(channel_); }

std::unique_ptr<DeviceBridge::Stub> BridgeProcess::NewStub(grpc::ChannelArguments args) const {
  // A local subchannel pool keeps the channel off the connection other
  // channels to the same target would share.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return DeviceBridge::NewStub(
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", grpc_port_), grpc::InsecureChannelCredentials(), args));
}

void BridgeProcess::Signal(int signal) const {
  if (pid_ > 0) kill(pid_, signal);
}

bool BridgeProcess::running() {
  if (exit_status_.has_value()) return false;
  exit_status_ = PollExit(pid_);
  return !exit_status_.has_value();
}

std::optional<int> BridgeProcess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (running()) {
    if (absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(kPollStep);
  }
  return exit_status_;
}

std::string BridgeProcess::Log() const { return ReadFile(log_path_); }

bool BridgeProcess::WaitForLog(absl::string_view needle, absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  while (!absl::StrContains(Log(), needle)) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(kPollStep);
  }
  return true;
}

}  // namespace hive::integration

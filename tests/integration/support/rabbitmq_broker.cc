#include "tests/integration/support/rabbitmq_broker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bridge/uuid.h"
#include "tests/integration/support/child_process.h"
#include "tests/integration/support/run_command.h"

namespace hive::integration {
namespace {

constexpr char kServer[] = "/usr/lib/rabbitmq/bin/rabbitmq-server";
constexpr char kCtl[] = "/usr/lib/rabbitmq/bin/rabbitmqctl";
constexpr absl::Duration kStartTimeout = absl::Seconds(60);
constexpr absl::Duration kStopTimeout = absl::Seconds(30);

absl::Status AwaitExit(pid_t pid, absl::Duration timeout, std::optional<int>* status) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!(*status = PollExit(pid)).has_value()) {
    if (absl::Now() >= deadline) return absl::DeadlineExceededError("process did not exit");
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::OkStatus();
}

// /proc/<pid>/stat: "pid (comm) state ppid ..."; the command and parent.
std::optional<std::pair<std::string, pid_t>> CommandAndParent(pid_t pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(stat, line)) return std::nullopt;
  const size_t open = line.find('(');
  const size_t close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close + 4 >= line.size()) return std::nullopt;
  char state = 0;
  int parent = 0;
  if (std::sscanf(line.c_str() + close + 2, "%c %d", &state, &parent) != 2) return std::nullopt;
  return std::make_pair(line.substr(open + 1, close - open - 1), static_cast<pid_t>(parent));
}

bool AcceptsConnections(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  const bool connected = connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return connected;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RabbitMqBroker>> RabbitMqBroker::Start() {
  if (access(kServer, X_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(kServer, " not found: apt-get install rabbitmq-server"));
  }
  std::unique_ptr<RabbitMqBroker> broker(new RabbitMqBroker);
  std::string dir_template = (std::filesystem::temp_directory_path() / "hive-rabbitmq.XXXXXX").string();
  if (mkdtemp(dir_template.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", std::strerror(errno)));
  }
  broker->dir_ = dir_template;
  broker->node_ = absl::StrCat("hivetest-", getpid(), "-",
                               std::filesystem::path(broker->dir_).filename().string().substr(14), "@localhost");
  for (const char* sub : {"mnesia", "log", "home"}) std::filesystem::create_directories(broker->dir_ + "/" + sub);
  std::ofstream(broker->dir_ + "/enabled_plugins") << "[].\n";
  broker->cluster_key_ = absl::StrCat(NewUuid(), NewUuid());
  broker->cluster_key_file_ = broker->dir_ + "/cluster-key";
  std::ofstream(broker->cluster_key_file_) << broker->cluster_key_ << "\n";
  absl::StatusOr<int> port = PickFreePort();
  absl::StatusOr<int> dist_port = PickFreePort();
  if (!port.ok()) return port.status();
  if (!dist_port.ok()) return dist_port.status();
  broker->port_ = *port;
  broker->dist_port_ = *dist_port;
  if (absl::Status launched = broker->Launch(); !launched.ok()) return launched;
  return broker;
}

RabbitMqBroker::~RabbitMqBroker() {
  if (pid_ > 0) {
    // A test that failed while the broker was frozen.
    if (frozen_) Thaw().IgnoreError();
    Stop().IgnoreError();
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      std::optional<int> status;
      AwaitExit(pid_, absl::Seconds(10), &status).IgnoreError();
    }
  }
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

std::string RabbitMqBroker::url() const { return absl::StrCat("amqp://guest:guest@127.0.0.1:", port_, "/%2f"); }

std::vector<std::string> RabbitMqBroker::ReplicaFlags(const std::string& replica_id) const {
  return {"--bus=" + url(), "--replica-id=" + replica_id, "--cluster-key-file=" + cluster_key_file_};
}

std::vector<std::string> RabbitMqBroker::Environment() const {
  std::vector<std::string> env;
  for (char** var = environ; *var != nullptr; ++var) {
    if (!absl::StartsWith(*var, "RABBITMQ_") && !absl::StartsWith(*var, "HOME=")) env.emplace_back(*var);
  }
  for (std::string setting :
       {absl::StrCat("RABBITMQ_NODENAME=", node_), absl::StrCat("RABBITMQ_NODE_PORT=", port_),
        absl::StrCat("RABBITMQ_NODE_IP_ADDRESS=127.0.0.1"), absl::StrCat("RABBITMQ_DIST_PORT=", dist_port_),
        absl::StrCat("RABBITMQ_MNESIA_BASE=", dir_, "/mnesia"), absl::StrCat("RABBITMQ_LOG_BASE=", dir_, "/log"),
        absl::StrCat("RABBITMQ_ENABLED_PLUGINS_FILE=", dir_, "/enabled_plugins"),
        absl::StrCat("HOME=", dir_, "/home")}) {
    env.push_back(std::move(setting));
  }
  return env;
}

absl::Status RabbitMqBroker::Launch() {
  absl::StatusOr<pid_t> pid = SpawnChild({kServer}, Environment(), dir_ + "/server.log");
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  const absl::Time deadline = absl::Now() + kStartTimeout;
  while (absl::Now() < deadline) {
    if (std::optional<int> exited = PollExit(pid_)) {
      pid_ = -1;
      return absl::InternalError(absl::StrCat("rabbitmq-server exited with ", *exited, ":\n", Log()));
    }
    // The broker opens its AMQP listener last, once it is ready; this is much
    // quicker to notice than `rabbitmqctl await_startup`, which polls every 10 s.
    if (AcceptsConnections(port_)) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(absl::StrCat("rabbitmq-server did not start:\n", Log()));
}

absl::Status RabbitMqBroker::Stop() {
  if (pid_ <= 0) return absl::OkStatus();
  // rabbitmq-server stops the node gracefully on SIGTERM (it forwards it to
  // the Erlang VM, whose signal handler runs the same shutdown as
  // `rabbitmqctl stop`) without booting a second VM for rabbitmqctl: a few
  // seconds of CPU saved for every cluster test.
  kill(pid_, SIGTERM);
  std::optional<int> status;
  if (!AwaitExit(pid_, kStopTimeout, &status).ok()) {
    kill(pid_, SIGKILL);
    AwaitExit(pid_, absl::Seconds(10), &status).IgnoreError();
  }
  pid_ = -1;
  return absl::OkStatus();
}

absl::Status RabbitMqBroker::Restart() {
  if (absl::Status stopped = Stop(); !stopped.ok()) return stopped;
  return Launch();
}

std::string RabbitMqBroker::Log() const { return ReadFile(dir_ + "/server.log"); }

absl::Status RabbitMqBroker::Ctl(const std::vector<std::string>& args) const {
  std::vector<std::string> command = {kCtl};
  command.insert(command.end(), args.begin(), args.end());
  const std::string log = dir_ + "/rabbitmqctl.log";
  absl::StatusOr<int> exit = RunCommand(command, Environment(), log, absl::Seconds(60));
  if (!exit.ok()) return exit.status();
  if (*exit != 0) return absl::InternalError(absl::StrCat("rabbitmqctl exited with ", *exit, ":\n", ReadFile(log)));
  return absl::OkStatus();
}

absl::StatusOr<pid_t> RabbitMqBroker::VmPid() const {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t candidate = std::stoi(name);
    std::optional<std::pair<std::string, pid_t>> process = CommandAndParent(candidate);
    if (!process.has_value() || !absl::StartsWith(process->first, "beam")) continue;
    // Ours if the server script is among its ancestors.
    for (pid_t up = process->second; up > 1;) {
      if (up == pid_) return candidate;
      std::optional<std::pair<std::string, pid_t>> parent = CommandAndParent(up);
      if (!parent.has_value()) break;
      up = parent->second;
    }
  }
  return absl::NotFoundError("no Erlang VM under the rabbitmq-server process");
}

absl::Status RabbitMqBroker::Freeze() {
  absl::StatusOr<pid_t> vm = VmPid();
  if (!vm.ok()) return vm.status();
  if (kill(*vm, SIGSTOP) != 0) return absl::InternalError(absl::StrCat("SIGSTOP: ", std::strerror(errno)));
  frozen_ = true;
  return absl::OkStatus();
}

absl::Status RabbitMqBroker::Thaw() {
  absl::StatusOr<pid_t> vm = VmPid();
  if (!vm.ok()) return vm.status();
  if (kill(*vm, SIGCONT) != 0) return absl::InternalError(absl::StrCat("SIGCONT: ", std::strerror(errno)));
  frozen_ = false;
  return absl::OkStatus();
}

}  // namespace hive::integration

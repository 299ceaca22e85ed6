// tests/integration/support/rabbitmq_broker.h
// A private RabbitMQ broker (Debian's rabbitmq-server) for one test: its own
// node name, free ports, data and log directories under a temporary
// directory, started directly (not through the service wrapper, which
// switches user) and stopped at the end.
//
//   absl::StatusOr<std::unique_ptr<RabbitMqBroker>> broker = RabbitMqBroker::Start();
//   BridgeProcess::Start((*broker)->ReplicaFlags("a"));   // --bus, --replica-id, --cluster-key-file
//   (*broker)->Stop();  (*broker)->Restart();  // same ports and data: streams survive
//   (*broker)->Ctl({"set_vm_memory_high_watermark", "0.0000001"});  // a memory alarm
//   (*broker)->Freeze();  (*broker)->Thaw();  // SIGSTOP / SIGCONT of its Erlang VM
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hive::integration {

class RabbitMqBroker {
 public:
  // Starts the broker and waits until it accepts connections (a few seconds).
  static absl::StatusOr<std::unique_ptr<RabbitMqBroker>> Start();

  RabbitMqBroker(const RabbitMqBroker&) = delete;
  RabbitMqBroker& operator=(const RabbitMqBroker&) = delete;
  // Stops the broker and removes its directory.
  ~RabbitMqBroker();

  // amqp://guest:guest@127.0.0.1:PORT/%2f
  std::string url() const;
  int port() const { return port_; }
  // A cluster key made for this broker (so for the replicas of one test):
  // its file, for --cluster-key-file, and its contents.
  const std::string& cluster_key_file() const { return cluster_key_file_; }
  const std::string& cluster_key() const { return cluster_key_; }
  // What a replica of this broker's cluster needs: --bus, --replica-id and
  // --cluster-key-file.
  std::vector<std::string> ReplicaFlags(const std::string& replica_id) const;

  // Stops the node (its queues' data stays on disk).
  absl::Status Stop();
  // Starts it again on the same ports and data.
  absl::Status Restart();

  std::string Log() const;

  // Runs rabbitmqctl against this node (its name and cookie), to its end.
  absl::Status Ctl(const std::vector<std::string>& args) const;
  // Stops / continues the Erlang VM (SIGSTOP / SIGCONT): a broker that is
  // there but answers nothing, not even heartbeats.
  absl::Status Freeze();
  absl::Status Thaw();

 private:
  RabbitMqBroker() = default;
  absl::Status Launch();
  std::vector<std::string> Environment() const;
  // The Erlang VM's process (beam.smp), a descendant of the server script.
  absl::StatusOr<pid_t> VmPid() const;

  std::string dir_;
  std::string node_;
  std::string cluster_key_file_;
  std::string cluster_key_;
  int port_ = 0;
  int dist_port_ = 0;
  pid_t pid_ = -1;
  bool frozen_ = false;
};

}  // namespace hive::integration

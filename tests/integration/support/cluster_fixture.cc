#include "tests/integration/support/cluster_fixture.h"

#include <cstdio>
#include <fstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/integration/support/grpc_calls.h"
#include "tests/unit/support/test_tokens.h"

namespace hive::integration {

void ClusterFixture::StartCluster(absl::string_view ready, absl::Duration timeout) {
  absl::StatusOr<std::unique_ptr<RabbitMqBroker>> broker = RabbitMqBroker::Start();
  ASSERT_TRUE(broker.ok()) << broker.status();
  broker_ = *std::move(broker);
  secret_path_ = ::testing::TempDir() + "/cluster-secret-" + NewUuid();
  std::ofstream(secret_path_) << secret_;
  for (int i = 1; i <= kReplicas; ++i) {
    StartReplica(i);
    if (::testing::Test::HasFatalFailure()) return;
  }
  for (int i = 1; i <= kReplicas; ++i) {
    ASSERT_TRUE(replica(i).WaitForLog(ready, timeout)) << replica(i).Log();
    AwaitBusConnected(i, timeout);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

void ClusterFixture::AwaitBusConnected(int index, absl::Duration timeout) {
  for (absl::string_view connection : {"data", "presence"}) {
    ASSERT_TRUE(replica(index).WaitForLog(absl::StrCat("event=bus_connected connection=", connection), timeout))
        << replica(index).Log();
  }
}

void ClusterFixture::TearDown() {
  stubs_.clear();
  replicas_.clear();
  if (!secret_path_.empty()) std::remove(secret_path_.c_str());
}

std::vector<std::string> ClusterFixture::FlagsFor(int /*index*/) { return extra_flags_; }

std::string ClusterFixture::BusUrlFor(int /*index*/) { return broker_->url(); }

void ClusterFixture::StartReplica(int index) {
  std::vector<std::string> flags = broker_->ReplicaFlags(absl::StrCat("replica-", index));
  for (std::string& flag : flags) {
    if (absl::StartsWith(flag, "--bus=")) flag = "--bus=" + BusUrlFor(index);
  }
  flags.push_back("--jwt-secret-file=" + secret_path_);
  const std::vector<std::string> own = FlagsFor(index);
  // A replica's own key file replaces the cluster's (a key rotation test).
  auto key_file = [](const std::string& flag) { return absl::StartsWith(flag, "--cluster-key-file="); };
  if (std::any_of(own.begin(), own.end(), key_file)) {
    flags.erase(std::remove_if(flags.begin(), flags.end(), key_file), flags.end());
  }
  flags.insert(flags.end(), own.begin(), own.end());
  absl::StatusOr<std::unique_ptr<BridgeProcess>> replica = BridgeProcess::Start(flags);
  ASSERT_TRUE(replica.ok()) << replica.status();
  if (replicas_.size() < static_cast<size_t>(index)) replicas_.resize(index);
  replicas_[index - 1] = *std::move(replica);
}

Stub& ClusterFixture::stub(int index) {
  std::unique_ptr<Stub>& stub = stubs_[replicas_[index - 1].get()];
  if (stub == nullptr) stub = replica(index).NewStub();
  return *stub;
}

std::string ClusterFixture::Logs() {
  std::string logs;
  for (int i = 1; i <= static_cast<int>(replicas_.size()); ++i) {
    if (replicas_[i - 1] != nullptr) absl::StrAppend(&logs, "--- replica-", i, "\n", replica(i).Log());
  }
  return logs;
}

std::unique_ptr<TestDevice> ClusterFixture::ConnectDevice(int index, std::optional<Responder> responder,
                                                          std::string device_id, std::string account_id) {
  if (device_id.empty()) device_id = NewUuid();
  if (account_id.empty()) account_id = account_;
  auto device = std::make_unique<TestDevice>(
      DeviceOptions{.url = replica(index).ws_url(),
                    .device_id = device_id,
                    .account_id = account_id,
                    .token = testing::MintHs256(secret_, device_id, account_id, absl::Now() + absl::Hours(1)),
                    .responder = std::move(responder)});
  absl::StatusOr<std::string> connected = device->ConnectAndAuthenticate();
  if (!connected.ok()) ADD_FAILURE() << connected.status() << "\n" << replica(index).Log();
  return device;
}

std::string ClusterFixture::HolderSeenBy(int index, const std::string& device_id) {
  hive::bridge::v1::GetDeviceResponse response;
  if (!GetDevice(stub(index), device_id, &response).ok()) return "";
  return response.device().replica();
}

hive::bridge::v1::SubscribeEventsRequest ClusterFixture::AccountEvents(std::string type) {
  hive::bridge::v1::SubscribeEventsRequest request;
  request.add_account_ids(account_);
  if (!type.empty()) request.add_types(std::move(type));
  request.mutable_resume_after()->set_epoch(replica(1).epoch());
  request.mutable_resume_after()->set_sequence(0);
  return request;
}

std::string NumberedEvent(int marker) {
  return absl::StrCat(R"({"type":"device-state","state":"running","marker":)", marker, "}");
}

int NumberOf(const hive::bridge::v1::DeviceEvent& event) {
  auto it = event.extra().fields().find("marker");
  return it == event.extra().fields().end() ? -1 : static_cast<int>(it->second.number_value());
}

bool MarkerTally::ReadThrough(int marker, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (seen_[marker] == 0) {
    std::optional<hive::bridge::v1::DeviceEvent> event =
        stream_.NextMatching(OfType("device-state"), deadline - absl::Now());
    if (!event.has_value()) return false;
    ++seen_[NumberOf(*event)];
  }
  return true;
}

std::map<int, int> MarkerTally::counted() const {
  std::map<int, int> counted;
  for (const auto& [marker, count] : seen_) {
    if (count > 0 && marker >= 0 && marker < kFirstBarrier) counted[marker] = count;
  }
  return counted;
}

int MarkerTally::duplicates() const {
  int duplicates = 0;
  for (const auto& [marker, count] : counted()) duplicates += count - 1;
  return duplicates;
}

}  // namespace hive::integration

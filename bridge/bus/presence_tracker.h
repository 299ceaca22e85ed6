// bridge/bus/presence_tracker.h
// The bus's presence tracker, alone on the presence connection (its own
// thread: amqp_driver.h), so that nothing on the data path can starve it.
// It reads fanout exchange hive.presence, where the replicas announce their
// devices connecting and leaving and their full lists (request_router.h
// publishes those, after the bindings they need), say hello when they
// (re)join (everyone answers with a snapshot), beat every heartbeat_period
// and say goodbye at shutdown. From it, it keeps:
//  - the FleetDirectory behind ListDevices/GetDevice and connect_timeout;
//  - the replicas' liveness: one not heard from for replica_timeout (judged
//    only while this connection is healthy, since nobody can be heard while
//    it is blocked or silent; never this replica) is taken for gone, as is
//    one that says goodbye: `gone` runs (its routed calls fail at once, the
//    queue and the jobs take over its work);
//  - evictions: a device that connected to another replica later than to
//    this one has its connection here closed as replaced
//    (LocalDevices::CloseIfReplaced).
// It publishes only its own heartbeats, hellos and its goodbye.
//
// The driver's thread only.
#pragma once

#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "bridge/bus/amqp_part.h"
#include "bridge/bus/cluster_messages.h"
#include "bridge/bus/cluster_signatures.h"
#include "bridge/bus/fleet_directory.h"
#include "bridge/bus/local_devices.h"
#include "bridge/clock.h"

namespace hive {

struct PresenceTrackerOptions {
  std::string replica_id;
  absl::Duration heartbeat_period = absl::Seconds(1);
  // A replica not heard from for this long is taken for gone.
  absl::Duration replica_timeout = absl::Seconds(5);
};

class PresenceTracker final : public AmqpPart {
 public:
  // A replica was taken for gone: `why` is what its routed calls fail with.
  using ReplicaGone = absl::AnyInvocable<void(const std::string& replica, const absl::Status& why)>;
  // A replica (re)joined: this replica's snapshot is wanted.
  using SnapshotWanted = absl::AnyInvocable<void()>;

  PresenceTracker(PresenceTrackerOptions options, const Clock& clock, ClusterSignatures& signatures,
                  LocalDevices& local, FleetDirectory& fleet, ReplicaGone gone, SnapshotWanted snapshot);

  // AmqpPart.
  std::vector<amqp_channel_t> channels() const override;
  absl::Status SetUp(AmqpConnection& amqp) override;
  absl::Status Flush(AmqpConnection& amqp, absl::Time now, bool& more) override;
  absl::Time next_due() const override { return next_heartbeat_; }
  absl::Status OnDelivery(AmqpDelivery delivery) override;
  void OnHealthChanged(bool healthy, BrokerState state) override;
  absl::Status Farewell(AmqpConnection& amqp) override;

 private:
  absl::Status Say(AmqpConnection& amqp, cluster::PresenceKind kind);
  void OnPresence(const AmqpMessage& message);
  void Evict(const hive::bridge::v1::Device& device);

  const PresenceTrackerOptions options_;
  const Clock& clock_;
  ClusterSignatures& signatures_;
  LocalDevices& local_;
  FleetDirectory& fleet_;
  ReplicaGone gone_;
  SnapshotWanted snapshot_;
  const std::string queue_;
  absl::Time next_heartbeat_ = absl::InfinitePast();
  // A replica was heard again after it was taken for gone: ask for its list.
  bool say_hello_ = false;
  // The first time the connection turns healthy since it was made.
  bool first_healthy_ = true;
};

}  // namespace hive

// bridge/bus/amqp_bus.h
// Cluster mode: the bus on RabbitMQ (docs/architecture.md#cluster-mode), so
// that any replica serves any device. A facade the server constructs and
// drives through the interfaces it implements (Bus, PresenceObserver,
// ClusterRouter, QueueLog, JobLog), composed of parts that each own one job
// (amqp_part.h) on two connections, each owned by a thin driver with its own
// thread (amqp_driver.h):
//  - the data connection:
//    - EventChannel (event_channel.h): device events out to hive.events with
//      publisher confirms, and the fleet's events in from
//      hive.events.stream to the hub, each once, numbered alike on every
//      replica;
//    - RequestRouter (request_router.h): requests routed to the replica
//      holding their device and their answers, this replica's devices'
//      bindings to hive.requests, and their announcements (which must
//      follow the bindings);
//    - LogStreams (log_streams.h): the queued requests' and the jobs' logs;
//  - the presence connection: PresenceTracker (presence_tracker.h), the
//    heartbeats, the fleet directory, the replicas' liveness and evictions.
//    On its own connection and thread so that a data path stuck writing (a
//    storm of events, a socket the broker reads slowly) cannot delay a
//    heartbeat or the reading of the peers' ones, and no replica is taken
//    for dead for being busy. (A channel of the data connection would not
//    do: a channel shares its connection's socket and thread.) What can
//    still delay them: the broker itself and the machine's CPU, which both
//    connections share; and the brief locks the tracker shares with the
//    data path and the server (the fleet directory's, the session
//    registry's when it closes a replaced device, and whatever `gone`
//    takes: the server's reads the queue's claims).
// The bus reaches this replica's devices only through LocalDevices
// (local_devices.h). With a signer every message is signed and checked
// (cluster_signatures.h).
// The replica is healthy (connected()) only while both connections are
// (WorseBrokerState). While either is away, blocked or silent, readiness is
// lost and routed requests fail with UNAVAILABLE; while the data connection
// is, queue/job appends are refused and events are buffered up to a bound;
// the peers' liveness is judged only while the presence connection is
// healthy.
// A lost or dead connection is made again with backoff, redeclaring and
// rebinding every live device.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "bridge/bus/amqp_connection.h"
#include "bridge/bus/amqp_driver.h"
#include "bridge/bus/bus.h"
#include "bridge/bus/cluster_router.h"
#include "bridge/bus/cluster_signatures.h"
#include "bridge/bus/event_channel.h"
#include "bridge/bus/fleet_directory.h"
#include "bridge/bus/local_devices.h"
#include "bridge/bus/log_streams.h"
#include "bridge/bus/message_signer.h"
#include "bridge/bus/presence_tracker.h"
#include "bridge/bus/request_router.h"
#include "bridge/clock.h"
#include "bridge/event_hub.h"
#include "bridge/jobs/job_op.h"
#include "bridge/presence_observer.h"
#include "bridge/queue/queue_op.h"
#include "bridge/request_correlator.h"

namespace hive {

struct AmqpBusOptions {
  AmqpAddress address;
  std::string replica_id;
  // Signs every message this replica publishes and refuses every message
  // it reads that is not signed under the same key (message_signer.h).
  // Null only with --cluster-insecure-unsigned=true: nothing is signed or
  // checked.
  std::shared_ptr<const MessageSigner> signer;
  // --audit-log: a line for every request routed here from another replica
  // (event=routed_request), with the caller's trace.
  bool audit = false;
  // Events held until the broker has them (queued, to publish again after
  // a reconnect, awaiting its confirm), by count and by estimated bytes
  // (--cluster-buffer-bytes): one more is dropped and counted
  // (buffer_budget.h).
  size_t max_buffered_events = 100000;
  size_t max_buffered_bytes = size_t{64} << 20;
  absl::Duration heartbeat_period = absl::Seconds(1);
  // A replica not heard from for this long is taken for gone.
  absl::Duration replica_timeout = absl::Seconds(5);
  // Connecting, and each broker round trip.
  absl::Duration io_timeout = absl::Seconds(5);
  // Where this replica first reads the event stream (a reconnect resumes
  // after the last event read): by default its next event. A replica that
  // keeps twins in a --state-dir resumes after its checkpoint (the last
  // offset its stored twins include), or reads from the stream's first
  // event when it has none, so that its twins catch up with the fleet.
  std::optional<uint64_t> resume_after_offset;
  bool from_first = false;
};

class AmqpBus final : public Bus, public PresenceObserver, public ClusterRouter, public QueueLog, public JobLog {
 public:
  // `local` is how the bus reaches this replica's devices; it must outlive
  // the bus.
  AmqpBus(AmqpBusOptions options, Clock& clock, EventHub& hub, LocalDevices& local);
  ~AmqpBus() override;

  // Before Start: the queued requests' view the log is read into, and what
  // runs (on the presence thread: it must only post work) when a replica is
  // taken for gone (it said goodbye or fell silent).
  using ReplicaGone = absl::AnyInvocable<void(const std::string& replica)>;
  void FeedQueue(QueueLogReader* reader, ReplicaGone gone);

  // Before Start: the jobs' view the jobs log is read into.
  void FeedJobs(JobLogReader* reader) { logs_.FeedJobs(reader); }

  // Starts both connections' threads, which connect (and keep reconnecting).
  void Start();

  // QueueLog: false while the data connection is not healthy.
  bool Append(const QueueOp& op) override;

  // JobLog: false while the data connection is not healthy.
  bool AppendJobOp(const JobOp& op) override;
  bool ReplicaAlive(const std::string& replica) const override;

  // Bus.
  // NOLINTNEXTLINE(performance-unnecessary-value-param): Bus takes it by value
  void Publish(hive::bridge::v1::DeviceEvent event) override { events_.Publish(event); }
  bool connected() const override { return broker_state() == BrokerState::kConnected; }
  BrokerState broker_state() const override;
  BusCounters counters() const override;
  void Stop() override;

  // PresenceObserver, for this replica's registry.
  void OnRegistered(const DeviceLink& link) override { router_.AnnounceConnected(link.Describe()); }
  void OnUnregistered(const DeviceLink& link) override { router_.AnnounceDisconnected(link.device_id()); }

  // ClusterRouter.
  SessionRegistry& fleet() override { return fleet_.devices(); }
  std::string Route(const hive::bridge::v1::SendDeviceRequestRequest& request, const std::string& replica,
                    absl::Time deadline, absl::string_view traceparent, RequestCorrelator::Done done) override;
  void Cancel(const std::string& call) override { router_.Cancel(call); }

  // Periodically: deadlines of routed calls and of callers waiting for a
  // device to connect anywhere.
  void ExpireDue();
  // Shutdown: callers waiting for a device get null now and from now on.
  void CloseWaiters();

  // Requests routed to other replicas and not yet answered.
  size_t routed_pending() const { return router_.pending(); }

 private:
  const AmqpBusOptions options_;
  ClusterSignatures signatures_;
  FleetDirectory fleet_;
  ReplicaGone replica_gone_;
  AmqpDriver data_;
  AmqpDriver presence_;
  EventChannel events_;
  RequestRouter router_;
  LogStreams logs_;
  PresenceTracker tracker_;
};

}  // namespace hive

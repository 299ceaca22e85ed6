// bridge/bus/amqp_bus.h
// Cluster mode: the bus on RabbitMQ (docs/architecture.md#cluster-mode), so
// that any replica serves any device.
//  - Events: each device event is published, as the seed's JSON, to topic
//    exchange hive.events (routing key <service>.<type>.<account>.<device>)
//    with publisher confirms. Every replica feeds its hub from the stream
//    queue hive.events.stream bound to it: each event once, numbered by its
//    stream offset alike on every replica, so resume_after works fleet-wide.
//    Events unconfirmed when the broker goes away are published again after
//    reconnecting; consumers drop the duplicates by message id.
//  - Requests: a device connecting here binds this replica's request queue
//    to direct exchange hive.requests with its id (unbound when it leaves).
//    Route() publishes a request there with `mandatory` (returned: no
//    replica holds the device, NOT_FOUND) and reply_to/correlation_id; the
//    holder delivers it (DeliverToDevice) and publishes the answer back.
//  - Presence: fanout exchange hive.presence carries devices connecting and
//    leaving, each replica's full list when one (re)joins, and heartbeats; it
//    feeds the fleet directory behind ListDevices/GetDevice, drops replicas
//    that fall silent (their calls fail fast), and closes a local connection
//    that a newer one on another replica replaced (4409).
//  - Queued requests: the fleet's log of queued-request operations is the
//    stream hive.queue.stream (bridge/queue/queue_op.h). Append publishes an
//    operation to it; every replica reads it from its first offset (a
//    reconnect resumes after the last operation read) into the queue's view
//    (FeedQueue), and after subscribing appends a marker, so that reading its
//    own marker back tells it its view has caught up.
//  - Fleet jobs: the stream hive.jobs.stream is the fleet's log of job
//    operations (bridge/jobs/job_op.h, bus/job_op_message.h), read like the
//    queue's from its first offset into the jobs' view (FeedJobs).
//  - Trust: with a signer (--cluster-key-file) every message published is
//    signed and every message read is checked first; one that fails is
//    dropped, counted (counters().rejected) and logged, never acted on
//    (message_signer.h, docs/SECURITY.md#the-message-broker).
// One bus thread owns the connection; other threads only queue work for it.
// While the broker is away, blocks publishers (connection.blocked) or falls
// silent (broker_health.h), connected() is false (readiness follows), the
// bus thread writes nothing (no write waits forever: write_watchdog.h),
// events are buffered up to a bound, routed requests fail with UNAVAILABLE,
// and the other replicas' liveness is not judged (nobody could be heard). A
// lost or dead connection is made again with backoff, redeclaring and
// rebinding every live device.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "bridge/bus/amqp_connection.h"
#include "bridge/bus/broker_health.h"
#include "bridge/bus/buffer_budget.h"
#include "bridge/bus/bus.h"
#include "bridge/bus/cluster_router.h"
#include "bridge/bus/fleet_directory.h"
#include "bridge/bus/message_signer.h"
#include "bridge/bus/rejected_messages.h"
#include "bridge/bus/remote_calls.h"
#include "bridge/bus/write_watchdog.h"
#include "bridge/clock.h"
#include "bridge/device_delivery.h"
#include "bridge/event_hub.h"
#include "bridge/jobs/job_op.h"
#include "bridge/log_rate_limiter.h"
#include "bridge/presence_observer.h"
#include "bridge/queue/queue_op.h"
#include "bridge/request_correlator.h"
#include "bridge/session_registry.h"

namespace hive {

struct AmqpBusOptions {
  AmqpAddress address;
  std::string replica_id;
  // Signs every message this replica publishes and refuses every message
  // it reads that is not signed under the same key (message_signer.h).
  // Null only with --cluster-insecure-unsigned=true: nothing is signed or
  // checked.
  std::shared_ptr<const MessageSigner> signer;
  DeliveryLimits delivery;
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
  AmqpBus(AmqpBusOptions options, Clock& clock, EventHub& hub, SessionRegistry& local, RequestCorrelator& correlator);
  ~AmqpBus() override;

  // Before Start: the queued requests' view the log is read into, and what
  // runs (on the bus thread: it must only post work) when a replica is
  // taken for gone (it said goodbye or fell silent).
  using ReplicaGone = absl::AnyInvocable<void(const std::string& replica)>;
  void FeedQueue(QueueLogReader* reader, ReplicaGone gone);

  // Before Start: the jobs' view the jobs log is read into.
  void FeedJobs(JobLogReader* reader) { job_reader_ = reader; }

  // Starts the bus thread, which connects (and keeps reconnecting).
  void Start();

  // QueueLog: false while the broker is unreachable.
  bool Append(const QueueOp& op) override;

  // JobLog: false while the broker is unreachable.
  bool AppendJobOp(const JobOp& op) override;
  bool ReplicaAlive(const std::string& replica) const override;

  // Bus.
  void Publish(hive::bridge::v1::DeviceEvent event) override;
  bool connected() const override { return health_.connected(); }
  BrokerState broker_state() const override { return health_.state(); }
  BusCounters counters() const override;
  void Stop() override;

  // PresenceObserver, for this replica's registry.
  void OnRegistered(const DeviceLink& link) override;
  void OnUnregistered(const DeviceLink& link) override;

  // ClusterRouter.
  SessionRegistry& fleet() override { return fleet_.devices(); }
  std::string Route(const hive::bridge::v1::SendDeviceRequestRequest& request, const std::string& replica,
                    absl::Time deadline, absl::string_view traceparent, RequestCorrelator::Done done) override;
  void Cancel(const std::string& call) override;

  // Periodically: deadlines of routed calls and of callers waiting for a
  // device to connect anywhere.
  void ExpireDue();
  // Shutdown: callers waiting for a device get null now and from now on.
  void CloseWaiters();

  // Requests routed to other replicas and not yet answered.
  size_t routed_pending() const { return calls_.size(); }

  class Outbox;

 private:
  class Connection;
  // What the bus thread keeps from one connection to the next.
  struct ThreadState;

  void Run();

  const AmqpBusOptions options_;
  Clock& clock_;
  EventHub& hub_;
  SessionRegistry& local_;
  RequestCorrelator& correlator_;
  FleetDirectory fleet_;
  RemoteCalls calls_;
  // Shared with the Done of requests delivered for other replicas, which
  // may run after the bus is gone.
  std::shared_ptr<Outbox> outbox_;
  QueueLogReader* queue_reader_ = nullptr;
  ReplicaGone replica_gone_;
  JobLogReader* job_reader_ = nullptr;
  std::unique_ptr<ThreadState> thread_state_;
  BufferBudget budget_;
  // Cuts a write to the broker that lasts io_timeout; before health_, which
  // asks it whether a write is stuck.
  WriteWatchdog watchdog_;
  BrokerHealth health_;
  std::atomic<uint64_t> published_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> delivered_{0};
  RejectedMessages rejected_;
  // Anyone who may publish on the virtual host can provoke the rejection
  // line; one key per kind and reason.
  LogRateLimiter rejection_log_{{}};
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace hive

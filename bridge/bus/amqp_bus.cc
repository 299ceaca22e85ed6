#include "bridge/bus/amqp_bus.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace hive {

AmqpBus::AmqpBus(AmqpBusOptions options, Clock& clock, EventHub& hub, LocalDevices& local)
    : options_(std::move(options)),
      signatures_(options_.signer, clock),
      fleet_(clock),
      data_({options_.address, "data", options_.replica_id, options_.io_timeout}, clock),
      presence_({options_.address, "presence", options_.replica_id, options_.io_timeout}, clock),
      events_({options_.replica_id, options_.max_buffered_events, options_.max_buffered_bytes,
               options_.resume_after_offset, options_.from_first},
              signatures_, hub, data_.wakeup()),
      router_({options_.replica_id, options_.audit, options_.heartbeat_period}, clock, signatures_, local, fleet_,
              data_.wakeup()),
      logs_(options_.replica_id, clock, signatures_, data_.wakeup()),
      tracker_(
          {options_.replica_id, options_.heartbeat_period, options_.replica_timeout}, clock, signatures_, local, fleet_,
          [this](const std::string& replica, const absl::Status& why) {
            if (replica_gone_) replica_gone_(replica);
            router_.FailReplica(replica, why);
          },
          [this] { router_.AnnounceSnapshot(); }) {
  // The router first: after a reconnect, devices are bound again before
  // anything else goes out.
  data_.Add(&router_);
  data_.Add(&events_);
  data_.Add(&logs_);
  presence_.Add(&tracker_);
}

AmqpBus::~AmqpBus() { Stop(); }

void AmqpBus::FeedQueue(QueueLogReader* reader, ReplicaGone gone) {
  logs_.FeedQueue(reader);
  replica_gone_ = std::move(gone);
}

void AmqpBus::Start() {
  presence_.Start();
  data_.Start();
}

BrokerState AmqpBus::broker_state() const { return WorseBrokerState(data_.state(), presence_.state()); }

// The logs are the data connection's alone: an append waits for nothing
// else. (The queue's deliverer claims a request as soon as its view has
// caught up on the data connection after a reconnect, maybe before presence
// is back; a refusal then would not be tried again.)
bool AmqpBus::Append(const QueueOp& op) {
  if (data_.state() != BrokerState::kConnected) return false;
  logs_.AppendQueueOp(op);
  return true;
}

bool AmqpBus::AppendJobOp(const JobOp& op) {
  if (data_.state() != BrokerState::kConnected) return false;
  logs_.AppendJobOp(op);
  return true;
}

bool AmqpBus::ReplicaAlive(const std::string& replica) const { return fleet_.Alive(replica); }

BusCounters AmqpBus::counters() const {
  return {events_.published(), events_.dropped(), events_.delivered(), data_.writes_cut() + presence_.writes_cut(),
          signatures_.rejected()};
}

void AmqpBus::Stop() {
  // The data path first: what is queued goes out and is confirmed while
  // this replica still beats; then its goodbye.
  data_.Stop();
  presence_.Stop();
  events_.Close();
  router_.Close();
  logs_.Close();
  router_.FailAll(absl::UnavailableError("bridge is shutting down"));
}

std::string AmqpBus::Route(const hive::bridge::v1::SendDeviceRequestRequest& request, const std::string& replica,
                           absl::Time deadline, absl::string_view traceparent, RequestCorrelator::Done done) {
  if (const BrokerState broker = broker_state(); broker != BrokerState::kConnected) {
    std::move(done)(absl::UnavailableError(absl::StrCat("device ", request.device_id(), " is held by replica ", replica,
                                                        ", and the message broker is ", BrokerStateName(broker))));
    return "";
  }
  return router_.Route(request, replica, deadline, traceparent, std::move(done));
}

void AmqpBus::ExpireDue() {
  router_.ExpireDue();
  fleet_.devices().ExpireDue();
}

void AmqpBus::CloseWaiters() { fleet_.devices().CloseWaiters(); }

}  // namespace hive

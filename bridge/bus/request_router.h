// bridge/bus/request_router.h
// The bus's request router, on the data connection: requests for devices
// another replica holds, both ways, and this replica's devices' bindings and
// announcements.
//  - Bindings: a device connecting here binds this replica's request queue
//    to direct exchange hive.requests with its id (unbound when it leaves),
//    pipelined (AmqpConnection::BindNoWait), so a connect storm costs no
//    round trip per device. After a reconnect every live device is bound
//    again (the queue is exclusive: the broker dropped the bindings with the
//    old connection).
//  - Announcements: a device's connected/disconnected presence, and this
//    replica's full list (a snapshot) when asked, are published to
//    hive.presence here, on the channel that carries the bindings, right
//    after them: the broker applies a channel's methods in order, so a peer
//    that reads the presence finds the binding. (The presence tracker,
//    presence_tracker.h, on its own connection, reads them and does all the
//    rest of presence.)
//  - Route() publishes a request there with `mandatory` (returned: no
//    replica holds the device, NOT_FOUND) and reply_to/correlation_id; the
//    holder delivers it to its device (LocalDevices::Deliver) and publishes
//    the answer back. RemoteCalls tracks the calls in flight.
//
// Route, Announce*, Cancel and the calls: any thread (queued for the driver).
// The rest: the driver's thread.
#pragma once

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/time/time.h"
#include "bridge/bus/amqp_part.h"
#include "bridge/bus/cluster_signatures.h"
#include "bridge/bus/fleet_directory.h"
#include "bridge/bus/local_devices.h"
#include "bridge/bus/remote_calls.h"
#include "bridge/bus/work_queue.h"
#include "bridge/clock.h"
#include "bridge/request_correlator.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive {

struct RequestRouterOptions {
  std::string replica_id;
  // --audit-log: a line for every request routed here from another replica
  // (event=routed_request), with the caller's trace.
  bool audit = false;
  // The peers' heartbeat period: a device the fleet sees on a replica heard
  // within two of them is only not bound yet when its request comes back
  // unroutable (UNAVAILABLE, not NOT_FOUND).
  absl::Duration heartbeat_period = absl::Seconds(1);
};

class RequestRouter final : public AmqpPart {
 public:
  RequestRouter(RequestRouterOptions options, const Clock& clock, ClusterSignatures& signatures, LocalDevices& local,
                FleetDirectory& fleet, std::shared_ptr<Wakeup> wakeup);

  // ClusterRouter::Route, once the facade has checked the broker's health.
  std::string Route(const hive::bridge::v1::SendDeviceRequestRequest& request, const std::string& replica,
                    absl::Time deadline, absl::string_view traceparent, RequestCorrelator::Done done);
  void Cancel(const std::string& call);
  // Fails the calls routed to `replica` (it went away).
  void FailReplica(const std::string& replica, const absl::Status& why) { calls_.FailReplica(replica, why); }
  void FailAll(const absl::Status& why) { calls_.FailAll(why); }
  void ExpireDue() { calls_.ExpireDue(); }
  size_t pending() const { return calls_.size(); }

  // A device's connection here became its live link, or stopped being it:
  // its binding, then its presence.
  void AnnounceConnected(const hive::bridge::v1::Device& device);
  void AnnounceDisconnected(const std::string& device_id);
  // Every device connected here, for a replica that (re)joined.
  void AnnounceSnapshot();
  // Refuses work from now on (the bus stopped).
  void Close() { queue_->Close(); }

  // AmqpPart.
  std::vector<amqp_channel_t> channels() const override;
  absl::Status SetUp(AmqpConnection& amqp) override;
  absl::Status Flush(AmqpConnection& amqp, absl::Time now, bool& more) override;
  absl::Status OnDelivery(AmqpDelivery delivery) override;
  // `device_id`: the routing key of a routed request.
  void OnReturn(const std::string& device_id, const AmqpMessage& message) override;
  void OnHealthChanged(bool healthy, BrokerState state) override;
  void OnConnectionEnded(bool stopped) override;

  // A message to publish on the message channel.
  struct Outgoing {
    ClusterMessageKind kind = ClusterMessageKind::kPresence;
    std::string exchange;
    std::string routing_key;
    bool mandatory = false;
    AmqpMessage message;
    // A routed request's call: not sent once the call is over.
    std::string call;
  };
  struct Binding {
    std::string device_id;
    bool bind;
  };
  // This replica's list, taken when it goes out (on the driver's thread, not
  // the asker's: the presence thread does no work per device).
  struct Snapshot {};
  using Command = std::variant<Outgoing, Binding, Snapshot>;

 private:
  absl::Status Send(AmqpConnection& amqp, Outgoing message);
  void OnRequest(const AmqpMessage& message);

  const RequestRouterOptions options_;
  const Clock& clock_;
  ClusterSignatures& signatures_;
  LocalDevices& local_;
  FleetDirectory& fleet_;
  RemoteCalls calls_;
  const std::string request_queue_;
  const std::string answer_queue_;
  // Shared with the Done of requests delivered for other replicas, which
  // may run after the bus is gone.
  const std::shared_ptr<WorkQueue<Command>> queue_;
};

}  // namespace hive

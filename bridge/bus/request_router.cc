#include "bridge/bus/request_router.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/bus/cluster_messages.h"
#include "bridge/log.h"
#include "bridge/status_macros.h"
#include "bridge/trace_context.h"

namespace hive {
namespace {

using hive::bridge::v1::Device;
using hive::bridge::v1::SendDeviceRequestRequest;
using hive::bridge::v1::SendDeviceRequestResponse;

// Declaring and consuming; requests, answers, announcements and bindings.
constexpr amqp_channel_t kControlChannel = 1;
constexpr amqp_channel_t kMessageChannel = 3;

constexpr absl::string_view kRequestsConsumer = "requests";
constexpr absl::string_view kAnswersConsumer = "answers";

RequestRouter::Outgoing Announcement(cluster::PresenceKind kind, const std::string& replica,
                                     std::vector<Device> devices) {
  return {ClusterMessageKind::kPresence,
          std::string(cluster::kPresenceExchange),
          "",
          false,
          cluster::EncodePresence({kind, replica, std::move(devices)}),
          ""};
}

// The holder's line for a request another replica routed here (the caller's
// replica writes the call's audit line): the same request and trace, so the
// two replicas' logs join on either.
void LogRoutedRequest(const std::string& request_id, const std::string& device_id, const std::string& trace_id,
                      const absl::StatusOr<SendDeviceRequestResponse>& outcome) {
  if (outcome.ok()) {
    Log(LogLevel::kInfo, "routed_request",
        {{"request", request_id},
         {"device", device_id},
         {"status", hive::bridge::v1::RequestStatus_Name(outcome->status())},
         {"trace", trace_id}});
    return;
  }
  Log(LogLevel::kInfo, "routed_request",
      {{"request", request_id},
       {"device", device_id},
       {"code", absl::StatusCodeToString(outcome.status().code())},
       {"error", outcome.status().message()},
       {"trace", trace_id}});
}

}  // namespace

RequestRouter::RequestRouter(RequestRouterOptions options, const Clock& clock, ClusterSignatures& signatures,
                             LocalDevices& local, FleetDirectory& fleet, std::shared_ptr<Wakeup> wakeup)
    : options_(std::move(options)),
      clock_(clock),
      signatures_(signatures),
      local_(local),
      fleet_(fleet),
      calls_(clock),
      request_queue_(cluster::RequestQueueOf(options_.replica_id)),
      answer_queue_(cluster::ReplyQueueOf(options_.replica_id)),
      queue_(std::make_shared<WorkQueue<Command>>(std::move(wakeup))) {}

std::string RequestRouter::Route(const SendDeviceRequestRequest& request, const std::string& replica,
                                 absl::Time deadline, absl::string_view traceparent, RequestCorrelator::Done done) {
  std::string call = calls_.Add(replica, deadline, std::move(done));
  queue_->Push(
      Outgoing{ClusterMessageKind::kRequest, std::string(cluster::kRequestsExchange), request.device_id(),
               /*mandatory=*/true,
               cluster::EncodeRoutedRequest(request, deadline - clock_.Now(), call, answer_queue_, traceparent), call});
  return call;
}

void RequestRouter::Cancel(const std::string& call) {
  calls_.Complete(call, absl::CancelledError("call cancelled by the caller"));
}

void RequestRouter::AnnounceConnected(const Device& device) {
  queue_->Push(Binding{device.device_id(), true});
  queue_->Push(Announcement(cluster::PresenceKind::kConnected, options_.replica_id, {device}));
}

void RequestRouter::AnnounceDisconnected(const std::string& device_id) {
  queue_->Push(Binding{device_id, false});
  Device gone;
  gone.set_device_id(device_id);
  gone.set_replica(options_.replica_id);
  queue_->Push(Announcement(cluster::PresenceKind::kDisconnected, options_.replica_id, {std::move(gone)}));
}

void RequestRouter::AnnounceSnapshot() { queue_->Push(Snapshot{}); }

std::vector<amqp_channel_t> RequestRouter::channels() const { return {kControlChannel, kMessageChannel}; }

absl::Status RequestRouter::SetUp(AmqpConnection& amqp) {
  HIVE_RETURN_IF_ERROR(amqp.DeclareExchange(kControlChannel, cluster::kRequestsExchange, "direct"));
  // Announcements go there; the presence connection may not have declared it yet.
  HIVE_RETURN_IF_ERROR(amqp.DeclareExchange(kControlChannel, cluster::kPresenceExchange, "fanout"));
  // This connection's own queues: the broker deletes them, and with them the
  // device bindings, when the connection dies.
  AmqpConnection::QueueOptions own;
  own.exclusive = true;
  own.auto_delete = true;
  HIVE_RETURN_IF_ERROR(amqp.DeclareQueue(kControlChannel, request_queue_, own));
  HIVE_RETURN_IF_ERROR(amqp.DeclareQueue(kControlChannel, answer_queue_, own));
  // Rebinding every live device costs no round trip each (BindNoWait), on
  // the channel the snapshot then goes out on, so peers that read it find
  // the bindings in place.
  const std::vector<Device> devices = local_.List();
  for (const Device& device : devices) {
    HIVE_RETURN_IF_ERROR(
        amqp.BindNoWait(kMessageChannel, request_queue_, cluster::kRequestsExchange, device.device_id()));
  }
  HIVE_RETURN_IF_ERROR(amqp.Consume(kControlChannel, request_queue_, kRequestsConsumer, /*auto_ack=*/true));
  HIVE_RETURN_IF_ERROR(amqp.Consume(kControlChannel, answer_queue_, kAnswersConsumer, /*auto_ack=*/true));
  return Send(amqp, Announcement(cluster::PresenceKind::kSnapshot, options_.replica_id, devices));
}

absl::Status RequestRouter::Send(AmqpConnection& amqp, Outgoing message) {
  signatures_.Sign(message.kind, message.exchange, message.routing_key, message.message);
  return amqp.Publish(kMessageChannel, message.exchange, message.routing_key, message.mandatory, message.message);
}

absl::Status RequestRouter::Flush(AmqpConnection& amqp, absl::Time /*now*/, bool& more) {
  std::deque<Command> batch = queue_->TakeAll();
  if (!batch.empty()) more = true;
  // On an error the rest is dropped: bindings and announcements are rebuilt
  // from the devices connected here on the next connection, and calls in
  // flight fail with it (OnConnectionEnded).
  for (Command& command : batch) {
    if (auto* message = std::get_if<Outgoing>(&command)) {
      if (!message->call.empty() && !calls_.Pending(message->call)) continue;
      HIVE_RETURN_IF_ERROR(Send(amqp, std::move(*message)));
      continue;
    }
    if (std::holds_alternative<Snapshot>(command)) {
      HIVE_RETURN_IF_ERROR(
          Send(amqp, Announcement(cluster::PresenceKind::kSnapshot, options_.replica_id, local_.List())));
      continue;
    }
    // Pipelined, on the channel the device's presence follows on (see
    // AmqpConnection::BindNoWait): a connect storm costs no round trip per
    // device, and the loop keeps reading the broker.
    const Binding& binding = std::get<Binding>(command);
    HIVE_RETURN_IF_ERROR(
        binding.bind
            ? amqp.BindNoWait(kMessageChannel, request_queue_, cluster::kRequestsExchange, binding.device_id)
            : amqp.UnbindNoWait(kMessageChannel, request_queue_, cluster::kRequestsExchange, binding.device_id));
  }
  return absl::OkStatus();
}

absl::Status RequestRouter::OnDelivery(AmqpDelivery delivery) {
  const bool request = delivery.consumer == kRequestsConsumer;
  if (!request && delivery.consumer != kAnswersConsumer) return absl::OkStatus();
  const ClusterMessageKind kind = request ? ClusterMessageKind::kRequest : ClusterMessageKind::kAnswer;
  // Dropped, never acted on (these consumers ack automatically).
  if (!signatures_.Authentic(kind, delivery.exchange, delivery.routing_key, delivery.message)) {
    return absl::OkStatus();
  }
  if (request) {
    OnRequest(delivery.message);
    return absl::OkStatus();
  }
  cluster::Answer answer = cluster::DecodeAnswer(delivery.message);
  calls_.Answer(delivery.message.correlation_id, answer.replica, answer.holder, std::move(answer.outcome));
  return absl::OkStatus();
}

void RequestRouter::OnRequest(const AmqpMessage& message) {
  if (message.reply_to.empty()) return;
  const std::string& replica = options_.replica_id;
  auto answer = [queue = queue_, replica, reply_to = message.reply_to, correlation_id = message.correlation_id](
                    bool holder, absl::StatusOr<SendDeviceRequestResponse> outcome) {
    queue->Push(Outgoing{ClusterMessageKind::kAnswer, "", reply_to, false,
                         cluster::EncodeAnswer({std::move(outcome), replica, holder}, correlation_id), ""});
  };
  absl::StatusOr<cluster::RoutedRequest> routed = cluster::DecodeRoutedRequest(message);
  if (!routed.ok()) {
    return answer(true, absl::InternalError(absl::StrCat("routed request: ", routed.status().message())));
  }
  const SendDeviceRequestRequest& request = routed->request;
  auto absent = [&] {
    answer(false, absl::NotFoundError(absl::StrCat("device ", request.device_id(), " is not connected")));
  };
  // A device another replica announced since (it moved) is no longer ours to
  // serve, even while its old connection here is closing.
  std::shared_ptr<DeviceLink> announced = fleet_.devices().Find(request.device_id());
  if (announced != nullptr && announced->Describe().replica() != replica) return absent();
  // The caller's trace, for the holder's line; "-" from a replica that sent
  // none.
  std::optional<Traceparent> trace = ParseTraceparent(routed->traceparent);
  const bool delivered = local_.Deliver(
      request, routed->traceparent, clock_.Now() + routed->timeout,
      [answer, audit = options_.audit, request_id = request.request_id(), device_id = request.device_id(),
       trace_id =
           trace.has_value() ? trace->trace_id : std::string("-")](absl::StatusOr<SendDeviceRequestResponse> outcome) {
        if (audit) LogRoutedRequest(request_id, device_id, trace_id, outcome);
        answer(true, std::move(outcome));
      });
  if (!delivered) absent();
}

void RequestRouter::OnReturn(const std::string& device_id, const AmqpMessage& message) {
  // Unroutable. A device the fleet still sees on another replica that was
  // heard from lately is only not bound yet (that replica is reconnecting):
  // UNAVAILABLE, not NOT_FOUND. One not heard from for two heartbeats may be
  // gone (killed), and its device with it.
  std::shared_ptr<DeviceLink> held = fleet_.devices().Find(device_id);
  const std::string holder = held == nullptr ? "" : held->Describe().replica();
  const bool rebinding =
      !holder.empty() && holder != options_.replica_id && fleet_.HeardWithin(holder, options_.heartbeat_period * 2);
  calls_.Complete(message.correlation_id,
                  !rebinding
                      ? absl::NotFoundError(absl::StrCat("device ", device_id, " is not connected"))
                      : absl::UnavailableError(absl::StrCat("device ", device_id, " is held by replica ", holder,
                                                            ", which is not reachable through the broker right now")));
}

void RequestRouter::OnHealthChanged(bool healthy, BrokerState state) {
  if (healthy) return;
  // Their requests could not leave, nor their answers come back.
  calls_.FailAll(absl::UnavailableError(
      absl::StrCat("the message broker is ", BrokerStateName(state), ": calls to other replicas cannot pass")));
}

void RequestRouter::OnConnectionEnded(bool stopped) {
  if (!stopped) calls_.FailAll(absl::UnavailableError("lost the connection to the message broker"));
}

}  // namespace hive

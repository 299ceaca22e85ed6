#include "bridge/bus/amqp_bus.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <utility>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bridge/bus/cluster_messages.h"
#include "bridge/bus/job_op_message.h"
#include "bridge/close_codes.h"
#include "bridge/log.h"
#include "bridge/status_macros.h"
#include "bridge/trace_context.h"
#include "bridge/uuid.h"
#include "google/protobuf/util/time_util.h"

namespace hive {
namespace {

using google::protobuf::util::TimeUtil;
using hive::bridge::v1::Device;
using hive::bridge::v1::DeviceEvent;
using hive::bridge::v1::SendDeviceRequestRequest;
using hive::bridge::v1::SendDeviceRequestResponse;

// One channel per kind of traffic: a broker error on one closes only it,
// and the stream's prefetch applies to the stream alone.
constexpr amqp_channel_t kControlChannel = 1;  // declare, bind, consume requests/answers/presence
constexpr amqp_channel_t kEventChannel = 2;    // event publishing, with confirms
constexpr amqp_channel_t kMessageChannel = 3;  // requests, answers, presence, device bindings
constexpr amqp_channel_t kStreamChannel = 4;   // the event stream
constexpr amqp_channel_t kQueueChannel = 5;    // the queue log (a stream)
constexpr amqp_channel_t kJobChannel = 6;      // the jobs log (a stream)

constexpr absl::string_view kRequestsConsumer = "requests";
constexpr absl::string_view kAnswersConsumer = "answers";
constexpr absl::string_view kPresenceConsumer = "presence";
constexpr uint16_t kStreamPrefetch = 1000;
// Stream retention: enough for resuming, bounded so the broker's disk is not.
constexpr int64_t kStreamMaxBytes = int64_t{1} << 30;
constexpr size_t kRecentIdCapacity = 1 << 16;
constexpr size_t kFramesPerPump = 1000;
constexpr absl::Duration kIdleWait = absl::Milliseconds(200);
constexpr absl::Duration kFirstBackoff = absl::Milliseconds(100);
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);
constexpr absl::Duration kFarewellTimeout = absl::Seconds(2);
// Events published again after a reconnect per turn of the loop, so that
// the broker is read (its heartbeats, connection.blocked) in between.
constexpr size_t kRetryChunk = 1000;

struct OutgoingEvent {
  std::string routing_key;
  AmqpMessage message;
  // What it holds of the buffer budget until the broker confirms it.
  size_t bytes = 0;
};

// An event's estimated footprint for the buffer budget: its text and a
// fixed allowance for the structures that carry it.
size_t FootprintOf(const OutgoingEvent& event) {
  size_t bytes = 256 + event.routing_key.size() + event.message.body.size() + event.message.message_id.size() +
                 event.message.content_type.size();
  for (const auto& [key, value] : event.message.headers) {
    bytes += 32 + key.size();
    if (const auto* text = std::get_if<std::string>(&value)) bytes += text->size();
  }
  return bytes;
}

struct OutgoingMessage {
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

using Command = std::variant<OutgoingEvent, OutgoingMessage, Binding>;

OutgoingMessage PresenceMessage(cluster::PresenceKind kind, const std::string& replica,
                                std::vector<Device> devices = {}) {
  return {ClusterMessageKind::kPresence,
          std::string(cluster::kPresenceExchange),
          "",
          false,
          cluster::EncodePresence({kind, replica, std::move(devices)}),
          ""};
}

// The message ids of the latest events, to drop an event published twice
// (its confirm was lost with the connection).
class RecentIds {
 public:
  // False when `id` was seen already.
  bool Insert(const std::string& id) {
    if (!seen_.insert(id).second) return false;
    order_.push_back(id);
    if (order_.size() > kRecentIdCapacity) {
      seen_.erase(order_.front());
      order_.pop_front();
    }
    return true;
  }

 private:
  absl::flat_hash_set<std::string> seen_;
  std::deque<std::string> order_;
};

bool Before(const google::protobuf::Timestamp& a, const google::protobuf::Timestamp& b) {
  return TimeUtil::TimestampToNanoseconds(a) < TimeUtil::TimestampToNanoseconds(b);
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

// The bus thread's work queue. Any thread pushes; the bus thread takes
// everything at once and is woken through an eventfd it polls beside the
// broker's socket.
class AmqpBus::Outbox {
 public:
  Outbox() : wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~Outbox() { close(wake_fd_); }

  int wake_fd() const { return wake_fd_; }

  // False once closed.
  bool PushEvent(OutgoingEvent event) {
    absl::MutexLock lock(&mu_);
    if (closed_) return false;
    PushLocked(std::move(event));
    return true;
  }

  void Push(Command command) {
    absl::MutexLock lock(&mu_);
    if (!closed_) PushLocked(std::move(command));
  }

  std::deque<Command> TakeAll() {
    absl::MutexLock lock(&mu_);
    return std::exchange(commands_, {});
  }

  void Wake() {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }

  void ClearWake() {
    uint64_t count = 0;
    (void)!read(wake_fd_, &count, sizeof count);
  }

  // Refuses everything from now on.
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }

 private:
  void PushLocked(Command command) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    commands_.push_back(std::move(command));
    // Only the first command wakes the thread: it takes them all.
    if (commands_.size() == 1) Wake();
  }

  const int wake_fd_;
  absl::Mutex mu_;
  std::deque<Command> commands_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

struct AmqpBus::ThreadState {
  // Events to publish (again) first after connecting, oldest first.
  std::deque<OutgoingEvent> retry;
  // The last stream offset fed into the hub: a reconnect resumes after it.
  std::optional<uint64_t> last_offset;
  RecentIds recent_ids;
  // The last queue-log offset applied to the queue's view.
  std::optional<uint64_t> last_queue_offset;
  // The last jobs-log offset applied to the jobs' view.
  std::optional<uint64_t> last_job_offset;
};

// One connection to the broker and what lives and dies with it, driven by
// the bus thread.
class AmqpBus::Connection {
 public:
  Connection(AmqpBus& bus, std::unique_ptr<AmqpConnection> amqp) : bus_(bus), amqp_(std::move(amqp)) {}

  absl::Status SetUp();
  // Serves until the connection fails (its status) or the bus stops (OK).
  absl::Status Serve();
  // Hands the events the broker has not confirmed back for the next connection.
  void Abandon();

 private:
  absl::Status Execute(Command& command);
  absl::Status PublishEvent(OutgoingEvent event);
  absl::Status PublishMessage(OutgoingMessage message);
  // The one place messages leave: signs `message` (when the cluster has a
  // key) for where it goes, then publishes it.
  absl::Status Send(amqp_channel_t channel, ClusterMessageKind kind, absl::string_view exchange,
                    absl::string_view routing_key, bool mandatory, AmqpMessage& message);
  // The one place messages arrive: whether `message`, delivered from
  // `exchange` with `routing_key` as `kind`, is signed under the cluster's
  // key; a message that is not is counted and logged (rate-limited).
  bool Authentic(ClusterMessageKind kind, absl::string_view exchange, absl::string_view routing_key,
                 const AmqpMessage& message);
  absl::Status Pump(absl::Duration wait);
  // The broker turned healthy (connected, not blocked, heard) or not.
  void OnHealthChanged(bool healthy);
  absl::Status HandleFrame(const amqp_frame_t& frame);
  void Confirm(uint64_t tag, bool multiple, bool acked);
  void OnEvent(const AmqpMessage& message, uint64_t delivery_tag);
  // A stream's message that is not acted on: acked with the rest, and a
  // reconnect resumes after it rather than reading it again.
  void PassOver(amqp_channel_t channel, const AmqpMessage& message, uint64_t delivery_tag);
  void OnQueueOp(const AmqpMessage& message, uint64_t delivery_tag);
  absl::Status SubscribeQueue();
  // Fleet jobs (job_op_message.h): the jobs log, read like the queue's.
  absl::Status SubscribeJobs();
  void OnJobOp(const AmqpMessage& message, uint64_t delivery_tag);
  void ReplicaGone(const std::string& replica);
  void OnRequest(const AmqpMessage& message);
  void OnPresence(const AmqpMessage& message);
  void EvictOlderLocalConnection(const Device& device);
  void PublishSnapshot();
  absl::Status Farewell();

  AmqpBus& bus_;
  std::unique_ptr<AmqpConnection> amqp_;
  const std::string request_queue_ = cluster::RequestQueueOf(bus_.options_.replica_id);
  // Published events awaiting the broker's confirm, by delivery tag.
  std::deque<std::pair<uint64_t, OutgoingEvent>> unconfirmed_;
  uint64_t next_event_tag_ = 1;
  uint64_t stream_tag_to_ack_ = 0;
  uint64_t queue_tag_to_ack_ = 0;
  uint64_t job_tag_to_ack_ = 0;
  absl::Time next_heartbeat_ = absl::InfinitePast();
  // Whether the broker was healthy at the last turn of the loop.
  bool was_healthy_ = false;
  bool first_healthy_ = true;
};

absl::Status AmqpBus::Connection::SetUp() {
  const std::string& replica = bus_.options_.replica_id;
  for (amqp_channel_t channel :
       {kControlChannel, kEventChannel, kMessageChannel, kStreamChannel, kQueueChannel, kJobChannel}) {
    HIVE_RETURN_IF_ERROR(amqp_->OpenChannel(channel));
  }
  HIVE_RETURN_IF_ERROR(amqp_->SelectConfirms(kEventChannel));
  HIVE_RETURN_IF_ERROR(amqp_->DeclareExchange(kControlChannel, cluster::kEventsExchange, "topic"));
  HIVE_RETURN_IF_ERROR(amqp_->DeclareExchange(kControlChannel, cluster::kRequestsExchange, "direct"));
  HIVE_RETURN_IF_ERROR(amqp_->DeclareExchange(kControlChannel, cluster::kPresenceExchange, "fanout"));
  AmqpConnection::QueueOptions stream;
  stream.durable = true;
  stream.arguments = {{"x-queue-type", std::string("stream")}, {"x-max-length-bytes", kStreamMaxBytes}};
  HIVE_RETURN_IF_ERROR(amqp_->DeclareQueue(kControlChannel, cluster::kEventStream, stream));
  HIVE_RETURN_IF_ERROR(amqp_->Bind(kControlChannel, cluster::kEventStream, cluster::kEventsExchange, "#"));
  // This connection's own queues: the broker deletes them, and with them the
  // device bindings, when the connection dies.
  AmqpConnection::QueueOptions own;
  own.exclusive = true;
  own.auto_delete = true;
  const std::string answer_queue = cluster::ReplyQueueOf(replica);
  const std::string presence_queue = cluster::PresenceQueueOf(replica);
  for (const std::string& queue : {request_queue_, answer_queue, presence_queue}) {
    HIVE_RETURN_IF_ERROR(amqp_->DeclareQueue(kControlChannel, queue, own));
  }
  HIVE_RETURN_IF_ERROR(amqp_->Bind(kControlChannel, presence_queue, cluster::kPresenceExchange, ""));
  // Rebinding every live device costs no round trip each (BindNoWait), on
  // the channel the snapshot then goes out on, so peers that read it find
  // the bindings in place.
  for (const Device& device : bus_.local_.List("", "", SIZE_MAX)) {
    HIVE_RETURN_IF_ERROR(
        amqp_->BindNoWait(kMessageChannel, request_queue_, cluster::kRequestsExchange, device.device_id()));
  }
  HIVE_RETURN_IF_ERROR(amqp_->Consume(kControlChannel, request_queue_, kRequestsConsumer, /*auto_ack=*/true));
  HIVE_RETURN_IF_ERROR(amqp_->Consume(kControlChannel, answer_queue, kAnswersConsumer, /*auto_ack=*/true));
  HIVE_RETURN_IF_ERROR(amqp_->Consume(kControlChannel, presence_queue, kPresenceConsumer, /*auto_ack=*/true));
  HIVE_RETURN_IF_ERROR(amqp_->SetPrefetch(kStreamChannel, kStreamPrefetch));
  const std::optional<uint64_t>& last = bus_.thread_state_->last_offset;
  AmqpValue start = last.has_value()           ? AmqpValue(static_cast<int64_t>(*last + 1))
                    : bus_.options_.from_first ? AmqpValue(std::string("first"))
                                               : AmqpValue(std::string("next"));
  HIVE_RETURN_IF_ERROR(amqp_->Consume(kStreamChannel, cluster::kEventStream, "events", /*auto_ack=*/false,
                                      {{"x-stream-offset", start}}));
  HIVE_RETURN_IF_ERROR(SubscribeQueue());
  HIVE_RETURN_IF_ERROR(SubscribeJobs());
  HIVE_RETURN_IF_ERROR(PublishMessage(PresenceMessage(cluster::PresenceKind::kHello, replica)));
  PublishSnapshot();
  return absl::OkStatus();
}

absl::Status AmqpBus::Connection::SubscribeQueue() {
  if (bus_.queue_reader_ == nullptr) return absl::OkStatus();
  // Bounded like the event stream. A queued request lives at most
  // --max-queue-ttl; the log holds its operations as long as the broker
  // keeps them (docs/architecture.md#queued-requests-in-a-cluster).
  AmqpConnection::QueueOptions stream;
  stream.durable = true;
  stream.arguments = {{"x-queue-type", std::string("stream")}, {"x-max-length-bytes", kStreamMaxBytes}};
  HIVE_RETURN_IF_ERROR(amqp_->DeclareQueue(kControlChannel, cluster::kQueueStream, stream));
  HIVE_RETURN_IF_ERROR(amqp_->SetPrefetch(kQueueChannel, kStreamPrefetch));
  const std::optional<uint64_t>& last = bus_.thread_state_->last_queue_offset;
  AmqpValue start = last.has_value() ? AmqpValue(static_cast<int64_t>(*last + 1)) : AmqpValue(std::string("first"));
  HIVE_RETURN_IF_ERROR(
      amqp_->Consume(kQueueChannel, cluster::kQueueStream, "queue", /*auto_ack=*/false, {{"x-stream-offset", start}}));
  // Read back, it says the view has caught up with what came before.
  QueueOp marker;
  marker.kind = QueueOp::Kind::kMarker;
  marker.id = NewUuid();
  marker.replica = bus_.options_.replica_id;
  marker.at = bus_.clock_.Now();
  return PublishMessage({ClusterMessageKind::kQueueOp, "", std::string(cluster::kQueueStream), false,
                         cluster::EncodeQueueOp(marker), ""});
}

void AmqpBus::Connection::PublishSnapshot() {
  bus_.outbox_->Push(
      PresenceMessage(cluster::PresenceKind::kSnapshot, bus_.options_.replica_id, bus_.local_.List("", "", SIZE_MAX)));
}

absl::Status AmqpBus::Connection::Serve() {
  ThreadState& state = *bus_.thread_state_;
  while (true) {
    const bool stopping = bus_.stop_.HasBeenNotified();
    if (bus_.health_.dead()) {
      return absl::UnavailableError(absl::StrCat("the broker sent nothing, not even a heartbeat, for ",
                                                 absl::FormatDuration(bus_.health_.silent_for())));
    }
    const bool healthy = bus_.health_.connected();
    if (healthy != was_healthy_) OnHealthChanged(healthy);
    if (!healthy) {
      // Blocked or silent: the broker reads nothing, so whatever is written
      // would only fill the socket. The outbox holds the work meanwhile.
      if (stopping) return absl::OkStatus();
      HIVE_RETURN_IF_ERROR(Pump(kIdleWait));
      continue;
    }
    std::deque<Command> batch;
    if (!state.retry.empty()) {
      // Events from before the reconnect go first, a chunk per turn.
      for (size_t i = 0; i < kRetryChunk && !state.retry.empty(); ++i) {
        batch.emplace_back(std::move(state.retry.front()));
        state.retry.pop_front();
      }
    } else {
      batch = bus_.outbox_->TakeAll();
    }
    for (auto it = batch.begin(); it != batch.end(); ++it) {
      if (absl::Status executed = Execute(*it); !executed.ok()) {
        // The events not yet sent go out after reconnecting; bindings and
        // presence are rebuilt from the registry then.
        for (++it; it != batch.end(); ++it) {
          if (auto* event = std::get_if<OutgoingEvent>(&*it)) state.retry.push_back(std::move(*event));
        }
        return executed;
      }
    }
    const absl::Time now = bus_.clock_.Now();
    if (now >= next_heartbeat_) {
      next_heartbeat_ = now + bus_.options_.heartbeat_period;
      HIVE_RETURN_IF_ERROR(
          PublishMessage(PresenceMessage(cluster::PresenceKind::kHeartbeat, bus_.options_.replica_id)));
      for (const std::string& silent :
           bus_.fleet_.DropSilent(bus_.options_.replica_timeout, bus_.options_.replica_id)) {
        Log(LogLevel::kWarn, "replica_silent", {{"replica", silent}});
        ReplicaGone(silent);
        bus_.calls_.FailReplica(
            silent, absl::UnavailableError(absl::StrCat("replica ", silent, " holding the device stopped answering")));
      }
    }
    if (stopping && batch.empty()) return Farewell();
    const bool more = !batch.empty() || !state.retry.empty();
    HIVE_RETURN_IF_ERROR(Pump(more ? absl::ZeroDuration() : std::min(kIdleWait, next_heartbeat_ - now)));
  }
}

void AmqpBus::Connection::OnHealthChanged(bool healthy) {
  was_healthy_ = healthy;
  if (healthy) {
    // Nobody could be heard while the broker was blocked or silent; after a
    // reconnect, the others may still be reconnecting (their backoff).
    bus_.fleet_.RestartClocks(std::exchange(first_healthy_, false) ? kMaxBackoff * 3 / 2 : absl::ZeroDuration());
    Log(LogLevel::kInfo, "broker_healthy", {{"broker", bus_.options_.address.Redacted()}});
    return;
  }
  const BrokerState state = bus_.health_.state();
  Log(LogLevel::kWarn, "broker_unhealthy",
      {{"state", BrokerStateName(state)}, {"silent_for", absl::FormatDuration(bus_.health_.silent_for())}});
  // Their requests could not leave, nor their answers come back.
  bus_.calls_.FailAll(absl::UnavailableError(
      absl::StrCat("the message broker is ", BrokerStateName(state), ": calls to other replicas cannot pass")));
}

absl::Status AmqpBus::Connection::Execute(Command& command) {
  if (auto* event = std::get_if<OutgoingEvent>(&command)) return PublishEvent(std::move(*event));
  if (auto* message = std::get_if<OutgoingMessage>(&command)) {
    if (!message->call.empty() && !bus_.calls_.Pending(message->call)) return absl::OkStatus();
    return PublishMessage(std::move(*message));
  }
  // Pipelined, on the channel the device's presence follows on (see
  // AmqpConnection::BindNoWait): a connect storm costs no round trip per
  // device, and the loop keeps reading the broker and heartbeating.
  const Binding& binding = std::get<Binding>(command);
  if (binding.bind) {
    return amqp_->BindNoWait(kMessageChannel, request_queue_, cluster::kRequestsExchange, binding.device_id);
  }
  return amqp_->UnbindNoWait(kMessageChannel, request_queue_, cluster::kRequestsExchange, binding.device_id);
}

absl::Status AmqpBus::Connection::PublishEvent(OutgoingEvent event) {
  absl::Status published = Send(kEventChannel, ClusterMessageKind::kEvent, cluster::kEventsExchange, event.routing_key,
                                /*mandatory=*/false, event.message);
  // Kept either way: unconfirmed events are published again after a reconnect.
  unconfirmed_.emplace_back(next_event_tag_++, std::move(event));
  return published;
}

absl::Status AmqpBus::Connection::PublishMessage(OutgoingMessage message) {
  return Send(kMessageChannel, message.kind, message.exchange, message.routing_key, message.mandatory, message.message);
}

absl::Status AmqpBus::Connection::Send(amqp_channel_t channel, ClusterMessageKind kind, absl::string_view exchange,
                                       absl::string_view routing_key, bool mandatory, AmqpMessage& message) {
  if (bus_.options_.signer != nullptr) bus_.options_.signer->Sign({kind, exchange, routing_key}, message);
  return amqp_->Publish(channel, exchange, routing_key, mandatory, message);
}

bool AmqpBus::Connection::Authentic(ClusterMessageKind kind, absl::string_view exchange, absl::string_view routing_key,
                                    const AmqpMessage& message) {
  if (bus_.options_.signer == nullptr) return true;
  const std::optional<SignatureRejection> rejection =
      bus_.options_.signer->Verify({kind, exchange, routing_key}, message);
  if (!rejection.has_value()) return true;
  bus_.rejected_.Count(kind, *rejection);
  const absl::string_view kind_name = ClusterMessageKindName(kind);
  const absl::string_view reason = SignatureRejectionName(*rejection);
  const AmqpValue* replica = FindAmqpValue(message.headers, "x-hive-replica");
  // The user_id property is checked by the broker; the replica header is
  // only what the message claims.
  bus_.rejection_log_.Log(absl::StrCat(kind_name, "/", reason), bus_.clock_.Now(), LogLevel::kWarn,
                          "cluster_message_rejected",
                          {{"kind", kind_name},
                           {"reason", reason},
                           {"sender", message.user_id.empty() ? "(not stated)" : message.user_id},
                           {"claimed_replica", replica != nullptr && std::holds_alternative<std::string>(*replica)
                                                   ? std::get<std::string>(*replica)
                                                   : std::string("(none)")},
                           {"exchange", exchange},
                           {"routing_key", routing_key}});
  return false;
}

absl::Status AmqpBus::Connection::Pump(absl::Duration wait) {
  const bool buffered = amqp_->HasBufferedInput();
  pollfd fds[] = {{amqp_->fd(), POLLIN, 0}, {bus_.outbox_->wake_fd(), POLLIN, 0}};
  poll(fds, 2, wait > absl::ZeroDuration() && !buffered ? static_cast<int>(absl::ToInt64Milliseconds(wait)) + 1 : 0);
  // Anything at all from the broker, its heartbeats included (rabbitmq-c
  // reads those without handing them over), says it is alive.
  if (buffered || (fds[0].revents & POLLIN) != 0) bus_.health_.Heard();
  bus_.outbox_->ClearWake();
  for (size_t i = 0; i < kFramesPerPump; ++i) {
    absl::StatusOr<std::optional<amqp_frame_t>> frame = amqp_->NextFrame(absl::ZeroDuration());
    if (!frame.ok()) return frame.status();
    if (!frame->has_value()) break;
    HIVE_RETURN_IF_ERROR(HandleFrame(**frame));
  }
  if (stream_tag_to_ack_ != 0) {
    HIVE_RETURN_IF_ERROR(amqp_->Ack(kStreamChannel, std::exchange(stream_tag_to_ack_, 0), /*multiple=*/true));
  }
  if (queue_tag_to_ack_ != 0) {
    HIVE_RETURN_IF_ERROR(amqp_->Ack(kQueueChannel, std::exchange(queue_tag_to_ack_, 0), /*multiple=*/true));
  }
  if (job_tag_to_ack_ != 0) {
    HIVE_RETURN_IF_ERROR(amqp_->Ack(kJobChannel, std::exchange(job_tag_to_ack_, 0), /*multiple=*/true));
  }
  return absl::OkStatus();
}

absl::Status AmqpBus::Connection::HandleFrame(const amqp_frame_t& frame) {
  if (frame.frame_type != AMQP_FRAME_METHOD) return absl::OkStatus();
  const amqp_method_t& method = frame.payload.method;
  switch (method.id) {
    case AMQP_BASIC_DELIVER_METHOD: {
      const auto* deliver = static_cast<const amqp_basic_deliver_t*>(method.decoded);
      const uint64_t tag = deliver->delivery_tag;
      const std::string consumer(static_cast<const char*>(deliver->consumer_tag.bytes), deliver->consumer_tag.len);
      const std::string exchange(static_cast<const char*>(deliver->exchange.bytes), deliver->exchange.len);
      const std::string routing_key(static_cast<const char*>(deliver->routing_key.bytes), deliver->routing_key.len);
      absl::StatusOr<AmqpMessage> message = amqp_->ReadContent(frame.channel);
      if (!message.ok()) return message.status();
      const ClusterMessageKind kind = frame.channel == kStreamChannel  ? ClusterMessageKind::kEvent
                                      : frame.channel == kQueueChannel ? ClusterMessageKind::kQueueOp
                                      : frame.channel == kJobChannel   ? ClusterMessageKind::kJobOp
                                      : consumer == kRequestsConsumer  ? ClusterMessageKind::kRequest
                                      : consumer == kAnswersConsumer   ? ClusterMessageKind::kAnswer
                                                                       : ClusterMessageKind::kPresence;
      if (!Authentic(kind, exchange, routing_key, *message)) {
        // Dropped, never acted on (the other consumers ack automatically).
        if (frame.channel == kStreamChannel || frame.channel == kQueueChannel || frame.channel == kJobChannel) {
          PassOver(frame.channel, *message, tag);
        }
        return absl::OkStatus();
      }
      if (frame.channel == kStreamChannel) {
        OnEvent(*message, tag);
      } else if (frame.channel == kQueueChannel) {
        OnQueueOp(*message, tag);
      } else if (frame.channel == kJobChannel) {
        OnJobOp(*message, tag);
      } else if (consumer == kRequestsConsumer) {
        OnRequest(*message);
      } else if (consumer == kAnswersConsumer) {
        cluster::Answer answer = cluster::DecodeAnswer(*message);
        bus_.calls_.Answer(message->correlation_id, answer.replica, answer.holder, std::move(answer.outcome));
      } else if (consumer == kPresenceConsumer) {
        OnPresence(*message);
      }
      return absl::OkStatus();
    }
    case AMQP_BASIC_RETURN_METHOD: {
      const auto* returned = static_cast<const amqp_basic_return_t*>(method.decoded);
      const std::string device_id(static_cast<const char*>(returned->routing_key.bytes), returned->routing_key.len);
      absl::StatusOr<AmqpMessage> message = amqp_->ReadContent(frame.channel);
      if (!message.ok()) return message.status();
      // Unroutable. A device the fleet still sees on another replica that
      // was heard from lately is only not bound yet (that replica is
      // reconnecting): UNAVAILABLE, not NOT_FOUND. One not heard from for
      // two heartbeats may be gone (killed), and its device with it.
      std::shared_ptr<DeviceLink> held = bus_.fleet_.devices().Find(device_id);
      const std::string holder = held == nullptr ? "" : held->Describe().replica();
      const bool rebinding = !holder.empty() && holder != bus_.options_.replica_id &&
                             bus_.fleet_.HeardWithin(holder, bus_.options_.heartbeat_period * 2);
      bus_.calls_.Complete(
          message->correlation_id,
          !rebinding ? absl::NotFoundError(absl::StrCat("device ", device_id, " is not connected"))
                     : absl::UnavailableError(absl::StrCat("device ", device_id, " is held by replica ", holder,
                                                           ", which is not reachable through the broker right now")));
      return absl::OkStatus();
    }
    case AMQP_BASIC_ACK_METHOD: {
      const auto* ack = static_cast<const amqp_basic_ack_t*>(method.decoded);
      Confirm(ack->delivery_tag, ack->multiple, /*acked=*/true);
      return absl::OkStatus();
    }
    case AMQP_BASIC_NACK_METHOD: {
      const auto* nack = static_cast<const amqp_basic_nack_t*>(method.decoded);
      Confirm(nack->delivery_tag, nack->multiple, /*acked=*/false);
      return absl::OkStatus();
    }
    case AMQP_CHANNEL_CLOSE_METHOD: {
      const auto* close = static_cast<const amqp_channel_close_t*>(method.decoded);
      return absl::UnavailableError(
          absl::StrCat("broker closed channel ", frame.channel, ": ", close->reply_code, " ",
                       std::string(static_cast<const char*>(close->reply_text.bytes), close->reply_text.len)));
    }
    case AMQP_CONNECTION_CLOSE_METHOD: {
      const auto* close = static_cast<const amqp_connection_close_t*>(method.decoded);
      return absl::UnavailableError(
          absl::StrCat("broker closed the connection: ", close->reply_code, " ",
                       std::string(static_cast<const char*>(close->reply_text.bytes), close->reply_text.len)));
    }
    case AMQP_BASIC_CANCEL_METHOD:
      return absl::UnavailableError("broker cancelled a consumer (queue deleted?)");
    case AMQP_CONNECTION_BLOCKED_METHOD: {
      const auto* blocked = static_cast<const amqp_connection_blocked_t*>(method.decoded);
      bus_.health_.Blocked();
      Log(LogLevel::kWarn, "broker_blocked",
          {{"broker", bus_.options_.address.Redacted()},
           {"reason", std::string(static_cast<const char*>(blocked->reason.bytes), blocked->reason.len)}});
      return absl::OkStatus();
    }
    case AMQP_CONNECTION_UNBLOCKED_METHOD:
      bus_.health_.Unblocked();
      Log(LogLevel::kInfo, "broker_unblocked", {{"broker", bus_.options_.address.Redacted()}});
      return absl::OkStatus();
    default:
      return absl::OkStatus();
  }
}

void AmqpBus::Connection::Confirm(uint64_t tag, bool multiple, bool acked) {
  std::vector<OutgoingEvent> refused;
  auto settle = [&](auto it) {
    if (acked) {
      bus_.budget_.Release(it->second.bytes);
    } else {
      refused.push_back(std::move(it->second));
    }
    return unconfirmed_.erase(it);
  };
  if (multiple) {
    while (!unconfirmed_.empty() && unconfirmed_.front().first <= tag) settle(unconfirmed_.begin());
  } else {
    auto it = std::find_if(unconfirmed_.begin(), unconfirmed_.end(), [tag](const auto& e) { return e.first == tag; });
    if (it != unconfirmed_.end()) settle(it);
  }
  // A nack is the broker failing to store the event: try again.
  for (OutgoingEvent& event : refused) bus_.thread_state_->retry.push_back(std::move(event));
  if (!refused.empty()) Log(LogLevel::kWarn, "bus_events_refused", {{"count", refused.size()}});
}

void AmqpBus::Connection::OnEvent(const AmqpMessage& message, uint64_t delivery_tag) {
  stream_tag_to_ack_ = delivery_tag;
  ThreadState& state = *bus_.thread_state_;
  absl::StatusOr<uint64_t> offset = cluster::StreamOffsetOf(message);
  if (!offset.ok()) return;
  if (state.last_offset.has_value() && *offset <= *state.last_offset) return;
  state.last_offset = *offset;
  if (!message.message_id.empty() && !state.recent_ids.Insert(message.message_id)) return;
  absl::StatusOr<DeviceEvent> event = cluster::DecodeEvent(message);
  if (!event.ok()) {
    // Another publisher on the exchange sent something that is not an event.
    Log(LogLevel::kWarn, "bus_event_undecodable", {{"offset", *offset}, {"error", event.status().message()}});
    return;
  }
  // Offsets start at 0, sequences at 1.
  bus_.hub_.PublishAt(*std::move(event), *offset + 1);
  bus_.delivered_.fetch_add(1, std::memory_order_relaxed);
}

void AmqpBus::Connection::PassOver(amqp_channel_t channel, const AmqpMessage& message, uint64_t delivery_tag) {
  const bool events = channel == kStreamChannel;
  const bool jobs = channel == kJobChannel;
  (events ? stream_tag_to_ack_ : jobs ? job_tag_to_ack_ : queue_tag_to_ack_) = delivery_tag;
  std::optional<uint64_t>& last = events ? bus_.thread_state_->last_offset
                                  : jobs ? bus_.thread_state_->last_job_offset
                                         : bus_.thread_state_->last_queue_offset;
  absl::StatusOr<uint64_t> offset = cluster::StreamOffsetOf(message);
  if (offset.ok() && (!last.has_value() || *offset > *last)) last = *offset;
}

void AmqpBus::Connection::OnQueueOp(const AmqpMessage& message, uint64_t delivery_tag) {
  queue_tag_to_ack_ = delivery_tag;
  ThreadState& state = *bus_.thread_state_;
  absl::StatusOr<uint64_t> offset = cluster::StreamOffsetOf(message);
  if (!offset.ok()) return;
  if (state.last_queue_offset.has_value() && *offset <= *state.last_queue_offset) return;
  state.last_queue_offset = *offset;
  absl::StatusOr<QueueOp> op = cluster::DecodeQueueOp(message);
  if (!op.ok()) {
    Log(LogLevel::kWarn, "queue_op_undecodable", {{"offset", *offset}, {"error", op.status().message()}});
    return;
  }
  bus_.queue_reader_->Apply(*op);
}

// Fleet jobs: the jobs log, read like the queue's (from its first offset,
// a reconnect resuming after the last operation applied).
absl::Status AmqpBus::Connection::SubscribeJobs() {
  if (bus_.job_reader_ == nullptr) return absl::OkStatus();
  AmqpConnection::QueueOptions stream;
  stream.durable = true;
  stream.arguments = {{"x-queue-type", std::string("stream")}, {"x-max-length-bytes", kStreamMaxBytes}};
  HIVE_RETURN_IF_ERROR(amqp_->DeclareQueue(kControlChannel, cluster::kJobStream, stream));
  HIVE_RETURN_IF_ERROR(amqp_->SetPrefetch(kJobChannel, kStreamPrefetch));
  const std::optional<uint64_t>& last = bus_.thread_state_->last_job_offset;
  const AmqpValue start =
      last.has_value() ? AmqpValue(static_cast<int64_t>(*last + 1)) : AmqpValue(std::string("first"));
  return amqp_->Consume(kJobChannel, cluster::kJobStream, "jobs", /*auto_ack=*/false, {{"x-stream-offset", start}});
}

void AmqpBus::Connection::OnJobOp(const AmqpMessage& message, uint64_t delivery_tag) {
  job_tag_to_ack_ = delivery_tag;
  ThreadState& state = *bus_.thread_state_;
  absl::StatusOr<uint64_t> offset = cluster::StreamOffsetOf(message);
  if (!offset.ok()) return;
  if (state.last_job_offset.has_value() && *offset <= *state.last_job_offset) return;
  state.last_job_offset = *offset;
  absl::StatusOr<JobOp> op = cluster::DecodeJobOp(message);
  if (!op.ok()) {
    Log(LogLevel::kWarn, "job_op_undecodable", {{"offset", *offset}, {"error", op.status().message()}});
    return;
  }
  bus_.job_reader_->ApplyJobOp(*op);
}

void AmqpBus::Connection::ReplicaGone(const std::string& replica) {
  if (bus_.replica_gone_ && replica != bus_.options_.replica_id) bus_.replica_gone_(replica);
}

void AmqpBus::Connection::OnRequest(const AmqpMessage& message) {
  if (message.reply_to.empty()) return;
  const std::string& replica = bus_.options_.replica_id;
  auto answer = [outbox = bus_.outbox_, replica, reply_to = message.reply_to, correlation_id = message.correlation_id](
                    bool holder, absl::StatusOr<SendDeviceRequestResponse> outcome) {
    outbox->Push(OutgoingMessage{ClusterMessageKind::kAnswer, "", reply_to, false,
                                 cluster::EncodeAnswer({std::move(outcome), replica, holder}, correlation_id), ""});
  };
  absl::StatusOr<cluster::RoutedRequest> routed = cluster::DecodeRoutedRequest(message);
  if (!routed.ok()) {
    return answer(true, absl::InternalError(absl::StrCat("routed request: ", routed.status().message())));
  }
  const SendDeviceRequestRequest& request = routed->request;
  std::shared_ptr<DeviceLink> link = bus_.local_.Find(request.device_id());
  // A device another replica announced since (it moved) is no longer ours to
  // serve, even while its old connection here is closing.
  std::shared_ptr<DeviceLink> announced = bus_.fleet_.devices().Find(request.device_id());
  if (link == nullptr || (announced != nullptr && announced->Describe().replica() != replica)) {
    return answer(false, absl::NotFoundError(absl::StrCat("device ", request.device_id(), " is not connected")));
  }
  DeliveredRequest delivered = DeliveredRequest::AsIs(request);
  delivered.traceparent = routed->traceparent;
  // The caller's trace, for the holder's line; "-" from a replica that sent
  // none.
  std::optional<Traceparent> trace = ParseTraceparent(routed->traceparent);
  DeliverToDevice(*link, delivered, bus_.clock_.Now() + routed->timeout, bus_.options_.delivery, bus_.correlator_,
                  [answer, audit = bus_.options_.audit, request_id = request.request_id(),
                   device_id = request.device_id(), trace_id = trace.has_value() ? trace->trace_id : std::string("-")](
                      absl::StatusOr<SendDeviceRequestResponse> outcome) {
                    if (audit) LogRoutedRequest(request_id, device_id, trace_id, outcome);
                    answer(true, std::move(outcome));
                  });
}

void AmqpBus::Connection::OnPresence(const AmqpMessage& message) {
  absl::StatusOr<cluster::Presence> presence = cluster::DecodePresence(message);
  if (!presence.ok()) {
    Log(LogLevel::kWarn, "bus_presence_undecodable", {{"error", presence.status().message()}});
    return;
  }
  const std::string& replica = presence->replica;
  const bool from_self = replica == bus_.options_.replica_id;
  if (presence->kind == cluster::PresenceKind::kGoodbye) {
    bus_.fleet_.Drop(replica);
    ReplicaGone(replica);
    bus_.calls_.FailReplica(replica,
                            absl::UnavailableError(absl::StrCat("replica ", replica, " holding the device shut down")));
    return;
  }
  const bool newcomer = bus_.fleet_.Heard(replica);
  switch (presence->kind) {
    case cluster::PresenceKind::kConnected:
      for (const Device& device : presence->devices) {
        bus_.fleet_.Connected(device);
        if (!from_self) EvictOlderLocalConnection(device);
      }
      break;
    case cluster::PresenceKind::kDisconnected:
      for (const Device& device : presence->devices) bus_.fleet_.Disconnected(device.device_id(), replica);
      break;
    case cluster::PresenceKind::kSnapshot:
      bus_.fleet_.Replace(replica, presence->devices);
      if (!from_self) {
        for (const Device& device : presence->devices) EvictOlderLocalConnection(device);
      }
      break;
    case cluster::PresenceKind::kHello:
      if (!from_self) PublishSnapshot();
      break;
    case cluster::PresenceKind::kHeartbeat:
      // A replica heard again after it was taken for gone: ask for its list.
      if (newcomer && !from_self) {
        bus_.outbox_->Push(PresenceMessage(cluster::PresenceKind::kHello, bus_.options_.replica_id));
      }
      break;
    case cluster::PresenceKind::kGoodbye:
      break;
  }
}

void AmqpBus::Connection::EvictOlderLocalConnection(const Device& device) {
  std::shared_ptr<DeviceLink> local = bus_.local_.Find(device.device_id());
  if (local == nullptr || !Before(local->Describe().connected_at(), device.connected_at())) return;
  Log(LogLevel::kInfo, "device_moved", {{"device", device.device_id()}, {"replica", device.replica()}});
  local->Close(close_code::kReplaced, absl::StrCat("replaced by a newer connection on replica ", device.replica()));
}

absl::Status AmqpBus::Connection::Farewell() {
  HIVE_RETURN_IF_ERROR(PublishMessage(PresenceMessage(cluster::PresenceKind::kGoodbye, bus_.options_.replica_id)));
  const absl::Time deadline = bus_.clock_.Now() + kFarewellTimeout;
  while (!unconfirmed_.empty() && bus_.clock_.Now() < deadline) HIVE_RETURN_IF_ERROR(Pump(absl::Milliseconds(50)));
  amqp_->Close();
  return absl::OkStatus();
}

void AmqpBus::Connection::Abandon() {
  // Still held (the buffer budget bounds them, counted when they came in).
  std::deque<OutgoingEvent>& retry = bus_.thread_state_->retry;
  for (auto it = unconfirmed_.rbegin(); it != unconfirmed_.rend(); ++it) retry.push_front(std::move(it->second));
  unconfirmed_.clear();
}

AmqpBus::AmqpBus(AmqpBusOptions options, Clock& clock, EventHub& hub, SessionRegistry& local,
                 RequestCorrelator& correlator)
    : options_(std::move(options)),
      clock_(clock),
      hub_(hub),
      local_(local),
      correlator_(correlator),
      fleet_(clock),
      calls_(clock),
      outbox_(std::make_shared<Outbox>()),
      thread_state_(std::make_unique<ThreadState>()),
      budget_(options_.max_buffered_events, options_.max_buffered_bytes),
      watchdog_(clock, options_.io_timeout),
      health_(clock, &watchdog_) {
  thread_state_->last_offset = options_.resume_after_offset;
}

AmqpBus::~AmqpBus() { Stop(); }

void AmqpBus::FeedQueue(QueueLogReader* reader, ReplicaGone gone) {
  queue_reader_ = reader;
  replica_gone_ = std::move(gone);
}

bool AmqpBus::Append(const QueueOp& op) {
  if (!health_.connected()) return false;
  outbox_->Push(OutgoingMessage{ClusterMessageKind::kQueueOp, "", std::string(cluster::kQueueStream), false,
                                cluster::EncodeQueueOp(op), ""});
  return true;
}

bool AmqpBus::AppendJobOp(const JobOp& op) {
  if (!health_.connected()) return false;
  outbox_->Push(OutgoingMessage{ClusterMessageKind::kJobOp, "", std::string(cluster::kJobStream), false,
                                cluster::EncodeJobOp(op), ""});
  return true;
}

bool AmqpBus::ReplicaAlive(const std::string& replica) const { return fleet_.Alive(replica); }

void AmqpBus::Start() {
  thread_ = std::thread([this] { Run(); });
}

void AmqpBus::Run() {
  absl::BitGen random;
  absl::Duration backoff = kFirstBackoff;
  while (!stop_.HasBeenNotified()) {
    absl::StatusOr<std::unique_ptr<AmqpConnection>> amqp =
        AmqpConnection::Open(options_.address, options_.io_timeout, absl::StrCat("hivebridge ", options_.replica_id));
    absl::Status status = amqp.status();
    if (status.ok()) {
      (*amqp)->set_watchdog(&watchdog_);
      const absl::Duration heartbeat = (*amqp)->heartbeat();
      Connection connection(*this, *std::move(amqp));
      status = connection.SetUp();
      if (status.ok()) {
        health_.Connected(heartbeat);
        backoff = kFirstBackoff;
        Log(LogLevel::kInfo, "bus_connected",
            {{"broker", options_.address.Redacted()}, {"heartbeat", absl::FormatDuration(heartbeat)}});
        status = connection.Serve();
      }
      if (!status.ok() && health_.state() == BrokerState::kSilent) {
        Log(LogLevel::kWarn, "broker_silent",
            {{"broker", options_.address.Redacted()}, {"silent_for", absl::FormatDuration(health_.silent_for())}});
      }
      health_.Disconnected();
      connection.Abandon();
      if (status.ok()) return;  // stopped
      calls_.FailAll(absl::UnavailableError("lost the connection to the message broker"));
    }
    Log(LogLevel::kWarn, "bus_disconnected",
        {{"broker", options_.address.Redacted()},
         {"error", status.message()},
         {"retry_in", absl::FormatDuration(backoff)}});
    // Jitter, so that replicas do not all come back at the same instant.
    stop_.WaitForNotificationWithTimeout(backoff * absl::Uniform(random, 0.5, 1.5));
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

void AmqpBus::Publish(DeviceEvent event) {
  published_.fetch_add(1, std::memory_order_relaxed);
  OutgoingEvent outgoing{cluster::EventRoutingKey(event), cluster::EncodeEvent(event, NewUuid(), options_.replica_id)};
  outgoing.bytes = FootprintOf(outgoing);
  const size_t bytes = outgoing.bytes;
  if (!budget_.TryReserve(bytes)) {
    // One line per 10,000 drops: a broker away for long drops many.
    if (dropped_.fetch_add(1, std::memory_order_relaxed) % 10000 == 0) {
      Log(LogLevel::kWarn, "bus_events_dropped",
          {{"count", 1},
           {"reason", "cluster buffer full"},
           {"held_events", budget_.events()},
           {"held_bytes", budget_.bytes()},
           {"limit",
            absl::StrCat(budget_.max_events(), " events, ", budget_.max_bytes(), " bytes (--cluster-buffer-bytes)")}});
    }
    return;
  }
  if (!outbox_->PushEvent(std::move(outgoing))) budget_.Release(bytes);  // stopped
}

BusCounters AmqpBus::counters() const {
  return {published_.load(std::memory_order_relaxed), dropped_.load(std::memory_order_relaxed),
          delivered_.load(std::memory_order_relaxed), rejected_.snapshot()};
}

void AmqpBus::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  outbox_->Wake();
  if (thread_.joinable()) thread_.join();
  outbox_->Close();
  calls_.FailAll(absl::UnavailableError("bridge is shutting down"));
}

void AmqpBus::OnRegistered(const DeviceLink& link) {
  outbox_->Push(Binding{link.device_id(), true});
  outbox_->Push(PresenceMessage(cluster::PresenceKind::kConnected, options_.replica_id, {link.Describe()}));
}

void AmqpBus::OnUnregistered(const DeviceLink& link) {
  outbox_->Push(Binding{link.device_id(), false});
  Device gone;
  gone.set_device_id(link.device_id());
  gone.set_replica(options_.replica_id);
  outbox_->Push(PresenceMessage(cluster::PresenceKind::kDisconnected, options_.replica_id, {std::move(gone)}));
}

std::string AmqpBus::Route(const SendDeviceRequestRequest& request, const std::string& replica, absl::Time deadline,
                           absl::string_view traceparent, RequestCorrelator::Done done) {
  if (const BrokerState broker = health_.state(); broker != BrokerState::kConnected) {
    std::move(done)(absl::UnavailableError(absl::StrCat("device ", request.device_id(), " is held by replica ", replica,
                                                        ", and the message broker is ", BrokerStateName(broker))));
    return "";
  }
  std::string call = calls_.Add(replica, deadline, std::move(done));
  outbox_->Push(OutgoingMessage{ClusterMessageKind::kRequest, std::string(cluster::kRequestsExchange),
                                request.device_id(), /*mandatory=*/true,
                                cluster::EncodeRoutedRequest(request, deadline - clock_.Now(), call,
                                                             cluster::ReplyQueueOf(options_.replica_id), traceparent),
                                call});
  return call;
}

void AmqpBus::Cancel(const std::string& call) {
  calls_.Complete(call, absl::CancelledError("call cancelled by the caller"));
}

void AmqpBus::ExpireDue() {
  calls_.ExpireDue();
  fleet_.devices().ExpireDue();
}

void AmqpBus::CloseWaiters() { fleet_.devices().CloseWaiters(); }

}  // namespace hive

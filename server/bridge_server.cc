#include "server/bridge_server.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bridge/auth/backend_policy.h"
#include "bridge/auth/jwt_authenticator.h"
#include "bridge/bus/amqp_bus.h"
#include "bridge/bus/cluster_messages.h"
#include "bridge/bus/inproc_bus.h"
#include "bridge/bus/message_signer.h"
#include "bridge/close_codes.h"
#include "bridge/event_hub.h"
#include "bridge/log.h"
#include "bridge/queue/queue_deliverer.h"
#include "bridge/queue/request_outcome_events.h"
#include "bridge/queue/request_queue.h"
#include "bridge/request_correlator.h"
#include "bridge/session_registry.h"
#include "bridge/state/sqlite_db.h"
#include "bridge/stream_epoch.h"
#include "bridge/twin/twin_persister.h"
#include "bridge/twin/twin_store.h"
#include "bridge/uuid.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/backend_access.h"
#include "server/cluster_local_devices.h"
#include "server/device_bridge_service.h"
#include "server/device_endpoint.h"
#include "server/event_delivery_metrics.h"
#include "server/expiry_ticker.h"
#include "server/fleet_jobs.h"
#include "server/grpc_call_metrics.h"
#include "server/grpc_tls_credentials.h"
#include "server/http_gateway.h"
#include "server/job_metrics.h"
#include "server/metrics.h"
#include "server/process_metrics.h"
#include "server/request_metrics.h"
#include "server/tls_reloader.h"
#include "server/trace_header_metrics.h"
#include "transport/tls_context_source.h"

namespace hive::server {
namespace {

constexpr absl::Duration kExpiryTick = absl::Milliseconds(10);
// How often changed twins are written to the --state-dir: what a kill -9 may
// lose at most (docs/architecture.md#fleet-memory).
constexpr absl::Duration kTwinFlushInterval = absl::Milliseconds(100);
// How often queued requests are checked for their TTL (so the resolution of
// queue_ttl) and ended records for --request-retention.
constexpr absl::Duration kQueueTick = absl::Milliseconds(250);

// Stateless, so one instance serves every component for the process's life.
SystemClock& TheClock() {
  static auto* const clock = new SystemClock;
  return *clock;
}
constexpr absl::Duration kCloseGrace = absl::Seconds(3);

absl::StatusOr<std::string> ReadKeyFile(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("--", flag, ": cannot read ", path));
  std::ostringstream contents;
  contents << in.rdbuf();
  std::string key = contents.str();
  // A secret file written by `echo` ends with a newline that is not part of it.
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  return key;
}

absl::StatusOr<std::unique_ptr<DeviceAuthenticator>> MakeAuthenticator(const Config& config, const Clock& clock) {
  JwtAuthenticatorOptions options;
  options.leeway = config.token_leeway;
  if (!config.jwt_secret_file.empty()) {
    absl::StatusOr<std::string> secret = ReadKeyFile("jwt-secret-file", config.jwt_secret_file);
    if (!secret.ok()) return secret.status();
    auto authenticator = JwtAuthenticator::FromHs256Secret(*std::move(secret), clock, options);
    if (!authenticator.ok()) return authenticator.status();
    return std::unique_ptr<DeviceAuthenticator>(*std::move(authenticator));
  }
  absl::StatusOr<std::string> pem = ReadKeyFile("jwt-public-key-file", config.jwt_public_key_file);
  if (!pem.ok()) return pem.status();
  auto authenticator = JwtAuthenticator::FromPublicKeyPem(*std::move(pem), clock, options);
  if (!authenticator.ok()) return authenticator.status();
  return std::unique_ptr<DeviceAuthenticator>(*std::move(authenticator));
}

absl::StatusOr<std::optional<BackendPolicy>> LoadBackendPolicy(const Config& config) {
  if (config.backend_policy_file.empty()) return std::nullopt;
  absl::StatusOr<std::string> text = ReadKeyFile("backend-policy-file", config.backend_policy_file);
  if (!text.ok()) return text.status();
  absl::StatusOr<BackendPolicy> policy = BackendPolicy::Parse(*text);
  if (!policy.ok())
    return absl::InvalidArgumentError(absl::StrCat("--backend-policy-file: ", policy.status().message()));
  if (policy->size() == 0) return absl::InvalidArgumentError("--backend-policy-file: grants nothing to anyone");
  return std::optional<BackendPolicy>(*std::move(policy));
}

// Cluster mode: the signer of the messages between replicas
// (bridge/bus/message_signer.h); null outside cluster mode and with
// --cluster-insecure-unsigned=true (config.cc refuses cluster mode with
// neither), which is said at start-up.
absl::StatusOr<std::shared_ptr<const MessageSigner>> LoadClusterSigner(const Config& config, bool cluster) {
  if (!cluster) return nullptr;
  if (config.cluster_key_file.empty()) {
    Log(LogLevel::kWarn, "cluster_messages_unsigned",
        {{"message",
          "--cluster-insecure-unsigned=true: messages between replicas are neither signed nor checked; anyone who "
          "may publish on the broker's virtual host can forge requests, presence and events"}});
    return nullptr;
  }
  absl::StatusOr<std::unique_ptr<MessageSigner>> signer = MessageSigner::FromKeyFile(config.cluster_key_file);
  if (!signer.ok()) return signer.status();
  Log(LogLevel::kInfo, "cluster_messages_signed",
      {{"key_id", (*signer)->key_id()}, {"accepted_key_ids", absl::StrJoin((*signer)->accepted_key_ids(), ",")}});
  return std::shared_ptr<const MessageSigner>(*std::move(signer));
}

// The TLS credentials of both listeners, loaded and checked at start-up.
struct TlsCredentials {
  std::unique_ptr<transport::TlsContextSource> wss;  // null: ws://
  std::unique_ptr<GrpcTlsCredentials> grpc;          // null: gRPC in plaintext
};

// Plaintext unless --tls-cert (devices) or --grpc-tls-cert (backends); with
// --grpc-client-ca, callers must present a certificate it signed.
absl::StatusOr<TlsCredentials> LoadTls(const Config& config) {
  TlsCredentials tls;
  if (!config.tls_cert_file.empty()) {
    absl::StatusOr<std::unique_ptr<transport::TlsContextSource>> wss =
        transport::TlsContextSource::Load({"tls-cert", config.tls_cert_file}, {"tls-key", config.tls_key_file});
    if (!wss.ok()) return wss.status();
    tls.wss = *std::move(wss);
  }
  if (!config.grpc_tls_cert_file.empty()) {
    std::optional<transport::FlagFile> client_ca;
    if (!config.grpc_client_ca_file.empty())
      client_ca = transport::FlagFile{"grpc-client-ca", config.grpc_client_ca_file};
    absl::StatusOr<std::unique_ptr<GrpcTlsCredentials>> grpc = GrpcTlsCredentials::Load(
        {"grpc-tls-cert", config.grpc_tls_cert_file}, {"grpc-tls-key", config.grpc_tls_key_file}, client_ca);
    if (!grpc.ok()) return grpc.status();
    tls.grpc = *std::move(grpc);
  }
  return tls;
}

SessionLimits LimitsFrom(const Config& config) {
  SessionLimits limits;
  limits.auth_timeout = config.auth_timeout;
  limits.ping_interval = config.ping_interval;
  limits.pong_timeout = config.pong_timeout;
  limits.idle_timeout = config.idle_timeout;
  limits.max_bad_frames = config.max_bad_frames;
  limits.send_queue = config.device_send_queue;
  limits.send_buffer_bytes = config.device_send_buffer;
  limits.max_event_bytes = config.max_event_bytes;
  limits.max_connections_per_account = config.max_connections_per_account;
  limits.event_rate = static_cast<double>(config.device_event_rate);
  limits.event_burst = static_cast<double>(config.device_event_burst);
  limits.frames.max_batch = config.max_batch;
  limits.frames.parse.max_depth = config.max_json_depth;
  return limits;
}

RequestCorrelator::Options CorrelatorOptions(const Config& config, LimitCounters& counters) {
  RequestCorrelator::Options options;
  options.dedupe_window = config.dedupe_window;
  options.max_pending_per_device = config.max_requests_per_device;
  options.max_pending = config.max_pending_requests;
  options.counters = &counters;
  options.max_remembered = config.max_remembered_requests;
  options.max_remembered_bytes = config.max_remembered_bytes;
  return options;
}

// The --state-dir exists before the twins' and the queue's stores open their
// database in it (each its own connection to the one file).
absl::Status CreateStateDir(const Config& config) {
  if (config.state_dir.empty()) return absl::OkStatus();
  std::error_code error;
  std::filesystem::create_directories(config.state_dir, error);
  if (!error) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--state-dir: cannot create ", config.state_dir, ": ", error.message()));
}

// The twins kept at start (--state-dir), or none.
struct StoredTwins {
  std::unique_ptr<TwinPersister> persister;  // null without --state-dir
  TwinPersister::Loaded loaded;
};

absl::StatusOr<StoredTwins> OpenStoredTwins(const Config& config) {
  StoredTwins stored;
  if (config.state_dir.empty()) return stored;
  absl::StatusOr<std::unique_ptr<TwinPersister>> persister = TwinPersister::Open(config.state_dir);
  if (!persister.ok())
    return absl::Status(persister.status().code(), absl::StrCat("--state-dir: ", persister.status().message()));
  absl::StatusOr<TwinPersister::Loaded> loaded = (*persister)->Load();
  if (!loaded.ok())
    return absl::Status(loaded.status().code(), absl::StrCat("--state-dir: ", loaded.status().message()));
  stored.persister = *std::move(persister);
  stored.loaded = *std::move(loaded);
  return stored;
}

TwinStore::Options TwinOptions(const Config& config, bool cluster, bool persisted) {
  TwinStore::Options options;
  options.types = TwinTypes::WithExtra(config.twin_types);
  options.max_twins = config.max_twins;
  options.max_bytes = config.max_twin_bytes;
  // In cluster mode a device-connected event does not say which replica.
  if (!cluster) options.replica = config.replica_id;
  options.track_changes = persisted;
  return options;
}

// The queued requests' store in --state-dir; null without one. In cluster
// mode the fleet's queue lives on the broker (hive.queue.stream) and this is
// the replica's in-memory view of it, --state-dir or not.
absl::StatusOr<std::unique_ptr<RequestQueue>> OpenRequestQueue(const Config& config, bool cluster, const Clock& clock) {
  RequestQueue::Limits limits;
  limits.max_per_device = config.max_queued_per_device;
  limits.max_requests = config.max_queued_requests;
  limits.max_bytes = config.max_queued_bytes;
  if (cluster) return RequestQueue::OpenView(limits, clock);
  if (config.state_dir.empty()) return nullptr;
  absl::StatusOr<std::unique_ptr<RequestQueue>> queue =
      RequestQueue::Open(StateDbPath(config.state_dir), limits, clock);
  if (!queue.ok()) return absl::Status(queue.status().code(), absl::StrCat("--state-dir: ", queue.status().message()));
  return queue;
}

std::unique_ptr<QueueDeliverer> MakeDeliverer(const Config& config, RequestQueue* queue, SessionRegistry& registry,
                                              RequestCorrelator& correlator, RequestOutcomeEvents& events,
                                              const Clock& clock) {
  if (queue == nullptr) return nullptr;
  QueueDeliverer::Options options;
  options.delivery.max_frame_bytes = config.max_message_bytes;
  return std::make_unique<QueueDeliverer>(*queue, registry, correlator, events, clock, options);
}

DeviceBridgeService::Options ServiceOptions(const Config& config, RequestQueue* queue, QueueDeliverer* deliverer,
                                            RequestMetrics* request_metrics, EventDeliveryMetrics* event_delivery,
                                            TraceHeaderMetrics* trace_metrics) {
  DeviceBridgeService::Options options;
  options.trace_metrics = trace_metrics;
  options.request_metrics = request_metrics;
  options.event_delivery = event_delivery;
  options.audit_requests = config.audit_log;
  options.default_request_timeout = config.default_request_timeout;
  options.max_frame_bytes = config.max_message_bytes;
  options.trace_to_device = config.trace_to_device;
  options.queue = queue;
  options.deliverer = deliverer;
  options.max_queue_ttl = config.max_queue_ttl;
  return options;
}

std::unique_ptr<AmqpBus> MakeClusterBus(const Config& config, const std::optional<AmqpAddress>& broker,
                                        std::shared_ptr<const MessageSigner> signer, Clock& clock, EventHub& hub,
                                        LocalDevices& local, bool persisted, const TwinPersister::Loaded& loaded) {
  if (!broker.has_value()) return nullptr;
  AmqpBusOptions options;
  options.address = *broker;
  options.replica_id = config.replica_id;
  options.signer = std::move(signer);
  options.audit = config.audit_log;
  options.max_buffered_bytes = config.cluster_buffer_bytes;
  if (persisted) {
    // Catch up from the checkpoint: the hub numbers stream offset N as
    // sequence N + 1, so sequence S is offset S - 1. A store of another
    // stream (or none yet) reads the stream from its start.
    if (loaded.sequence > 0 && loaded.epoch == cluster::StreamEpoch(broker->vhost)) {
      options.resume_after_offset = loaded.sequence - 1;
      Log(LogLevel::kInfo, "twin_stream_start", {{"from", "checkpoint"}, {"offset", loaded.sequence}});
    } else {
      options.from_first = true;
      Log(LogLevel::kInfo, "twin_stream_start", {{"from", "first"}});
    }
  }
  return std::make_unique<AmqpBus>(std::move(options), clock, hub, local);
}

// What one backend may hold of the gRPC server (docs/SECURITY.md): streams
// per connection, the memory of gRPC's buffers, and keepalive both ways (we
// ping idle connections to find dead backends; backends pinging too often
// are cut off). The resource quota sets no thread cap: the callback API runs
// calls on gRPC's own event engine threads, which the quota's thread limit
// does not govern (it bounds the synchronous API's thread pool).
void ApplyGrpcLimits(const Config& config, grpc::ResourceQuota& quota, grpc::ServerBuilder& builder) {
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, config.grpc_max_concurrent_streams);
  quota.Resize(config.grpc_memory_limit);
  builder.SetResourceQuota(quota);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(config.grpc_keepalive_time)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(config.grpc_keepalive_timeout)));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(config.grpc_min_ping_interval)));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, config.grpc_max_ping_strikes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS,
                             config.grpc_permit_keepalive_without_calls ? 1 : 0);
}

class BridgeServerImpl final : public BridgeServer {
 public:
  // `broker` is set in cluster mode, `signer` too unless
  // --cluster-insecure-unsigned.
  BridgeServerImpl(const Config& config, std::unique_ptr<DeviceAuthenticator> authenticator,
                   const std::optional<AmqpAddress>& broker, std::shared_ptr<const MessageSigner> signer,
                   std::optional<BackendPolicy> backend_policy, TlsCredentials tls, StoredTwins stored,
                   std::unique_ptr<RequestQueue> queue, std::unique_ptr<JobStore> job_store)
      : config_(config),
        authenticator_(std::move(authenticator)),
        access_(std::move(backend_policy)),
        tls_(std::move(tls)),
        twins_(TwinOptions(config, broker.has_value(), stored.persister != nullptr)),
        persister_(std::move(stored.persister)),
        // In cluster mode events are numbered by the fleet's stream, so the
        // epoch is the stream's, alike on every replica.
        hub_(clock_,
             {config.event_history, config.event_history_bytes, config.subscriber_queue, config.subscriber_queue_bytes,
              config.max_subscribers, &counters_,
              /*fleet_sequences=*/broker.has_value(), /*observer=*/&twins_},
             broker.has_value() ? cluster::StreamEpoch(broker->vhost) : NewLocalEpoch()),
        registry_(clock_),
        correlator_(clock_, CorrelatorOptions(config, counters_)),
        cluster_devices_(registry_, correlator_, {config.max_message_bytes, config.trace_to_device}),
        cluster_(MakeClusterBus(config, broker, std::move(signer), clock_, hub_, cluster_devices_,
                                persister_ != nullptr, stored.loaded)),
        inproc_(hub_),
        bus_(cluster_ != nullptr ? static_cast<Bus&>(*cluster_) : inproc_),
        outcomes_(bus_, clock_),
        queue_(std::move(queue)),
        deliverer_(MakeDeliverer(config, queue_.get(), registry_, correlator_, outcomes_, clock_)),
        services_{clock_, *authenticator_, registry_, correlator_, bus_, config.replica_id, &counters_, &devices_},
        limits_(LimitsFrom(config)),
        service_(ServiceOptions(config, queue_.get(), deliverer_.get(), &request_metrics_, &event_delivery_,
                                &trace_metrics_),
                 clock_, registry_, correlator_, hub_, cluster_.get(), access_, twins_),
        jobs_(config,
              {broker.has_value(), queue_.get(), deliverer_.get(), hub_, registry_, twins_, access_, clock_,
               &job_metrics_, &bus_, cluster_.get(), config.replica_id,
               cluster_ != nullptr ? &cluster_->fleet() : nullptr, &counters_},
              std::move(job_store)),
        // The endpoint, the fleet and the queue are set below once they exist.
        metrics_{registry_,
                 hub_,
                 correlator_,
                 bus_,
                 counters_,
                 twins_,
                 persister_.get(),
                 /*endpoint=*/nullptr,
                 /*fleet=*/nullptr,
                 /*queue=*/nullptr,
                 &devices_,
                 [this] { return ready(); },
                 {&prometheus_, &process_metrics_}} {
    // Before any event can arrive (the bus starts below, devices after
    // Listen). One bridge alone: whatever was connected to it when it
    // stopped was cut off; in a cluster the device may be on another replica.
    const size_t stored_twins = stored.loaded.twins.size();
    twins_.Load(std::move(stored.loaded.twins), /*close_connected=*/!broker.has_value());
    if (persister_ != nullptr) {
      Log(LogLevel::kInfo, "twins_loaded", {{"twins", stored_twins}, {"state_dir", config.state_dir}});
    }
    if (persister_ != nullptr) persister_->Start(twins_, kTwinFlushInterval);
    // Request-outcome events: of requests sent with outcome_events, and of
    // queued ones (recorded by the deliverer first).
    correlator_.Observe(&outcomes_);
    if (deliverer_ != nullptr) {
      outcomes_.ForwardQueued([deliverer = deliverer_.get()](RequestCorrelator::OutcomeChange change) {
        deliverer->OnProgress(std::move(change));
      });
      registry_.Observe(deliverer_.get());
      metrics_.queue = queue_.get();
      queue_->CountRefusalsIn(&counters_);
      // Handed over before the last stop, unanswered: now UNCONFIRMED.
      for (const hive::bridge::v1::RequestRecord& record : queue_->TakeRecovered()) deliverer_->Publish(record);
    }
    // Calls wait for a device here, or in cluster mode in the fleet's
    // directory (a device may connect to any replica).
    registry_.LimitWaiters(config.max_connect_waiters, &counters_);
    if (cluster_ != nullptr && deliverer_ != nullptr) {
      // The fleet's queue: changes go through the log on the broker, which
      // every replica reads into its view.
      QueueDeliverer* deliverer = deliverer_.get();
      RequestQueue* queue = queue_.get();
      queue_->Replicate(
          cluster_.get(), config.replica_id,
          [deliverer](const std::string& device_id) { deliverer->Arrived(device_id); },
          [deliverer, replica = config.replica_id](std::vector<std::string> request_ids) {
            deliverer->Orphaned(replica, std::move(request_ids));
          });
      cluster_->FeedQueue(queue_.get(), [deliverer, queue](const std::string& replica) {
        deliverer->Orphaned(replica, queue->ClaimedBy(replica));
      });
      // The fleet's jobs: their log on the broker, read into this replica's view.
      if (JobLogReader* jobs = jobs_.log_reader(); jobs != nullptr) cluster_->FeedJobs(jobs);
    }
    if (cluster_ != nullptr) {
      cluster_->fleet().LimitWaiters(config.max_connect_waiters, &counters_);
      metrics_.fleet = &cluster_->fleet();
      registry_.Observe(cluster_.get());
      cluster_->Start();
    }
  }

  ~BridgeServerImpl() override {
    Shutdown();
    // Never served (Shutdown did nothing): the bus thread, which feeds the
    // queue's view and posts to its deliverer, stops before they are gone.
    if (cluster_ != nullptr) cluster_->Stop();
    jobs_.Stop();
    if (deliverer_ != nullptr) deliverer_->Stop();
  }

  absl::Status Listen() {
    DeviceEndpointOptions options;
    options.listen = config_.ws_listen;
    options.io_threads = config_.io_threads > 0 ? config_.io_threads
                                                : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    options.max_message_bytes = config_.max_message_bytes;
    options.max_connections = config_.max_connections;
    options.handshake_timeout = config_.handshake_timeout;
    options.tls = tls_.wss.get();
    options.counters = &counters_;
    absl::StatusOr<std::unique_ptr<DeviceEndpoint>> endpoint =
        DeviceEndpoint::Start(options, services_, limits_, [this](absl::string_view path) { return Route(path); });
    if (!endpoint.ok()) return endpoint.status();
    endpoint_ = *std::move(endpoint);
    metrics_.endpoint = endpoint_.get();

    grpc::EnableDefaultHealthCheckService(true);
    // Referencing the health messages keeps their descriptors linked in, so
    // reflection can describe the health service gRPC serves.
    grpc::health::v1::HealthCheckRequest::descriptor();
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder builder;
    builder.AddListeningPort(config_.grpc_listen,
                             tls_.grpc != nullptr ? tls_.grpc->credentials() : grpc::InsecureServerCredentials(),
                             &grpc_port_);
    // gRPC sets SO_REUSEPORT by default, which would let a second bridge on
    // the same --grpc-listen start and take half the backends' calls; without
    // it the second one's bind fails ("address in use").
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.RegisterService(&service_);
    builder.RegisterService(&jobs_.service());
    builder.experimental().SetInterceptorCreators(grpc_metrics_.InterceptorCreators());
    ApplyGrpcLimits(config_, grpc_quota_, builder);
    grpc_server_ = builder.BuildAndStart();
    if (grpc_server_ == nullptr || grpc_port_ == 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen for gRPC on ", config_.grpc_listen));
    }
    // Health answers for the service by name too (grpc-health-probe -service,
    // Envoy, client-side health checking), not only for the server (""); the
    // default health service's SetServingStatus(bool), in FollowBus and
    // Shutdown, then moves both.
    grpc_server_->GetHealthCheckService()->SetServingStatus(hive::bridge::v1::DeviceBridge::service_full_name(),
                                                            serving_);
    if (absl::Status started = StartHttpGateway(); !started.ok()) return started;
    if (absl::Status resumed = jobs_.Start(); !resumed.ok()) return resumed;
    reloader_ = std::make_unique<TlsReloader>(ReloadTargets(), config_.tls_reload_interval);
    ticker_ = std::make_unique<ExpiryTicker>(kExpiryTick, [this] {
      correlator_.ExpireDue();
      registry_.ExpireDue();
      if (cluster_ != nullptr) cluster_->ExpireDue();
      FollowBus();
    });
    if (deliverer_ != nullptr) {
      queue_ticker_ =
          std::make_unique<ExpiryTicker>(kQueueTick, [this] { deliverer_->Expire(config_.request_retention); });
    }
    ready_ = true;
    Log(LogLevel::kInfo, "started",
        {{"version", HIVEBRIDGE_VERSION},
         {"ws_port", endpoint_->port()},
         {"grpc_port", grpc_port_},
         {"http_port", gateway_ == nullptr ? 0 : gateway_->port()},
         {"replica", config_.replica_id},
         {"epoch", hub_.epoch()},
         {"bus", cluster_ == nullptr ? "inproc" : "amqp"}});
    return absl::OkStatus();
  }

  int websocket_port() const override { return endpoint_ == nullptr ? 0 : endpoint_->port(); }
  int grpc_port() const override { return grpc_port_; }

  void ReloadTls() override {
    if (reloader_ != nullptr && !shut_down_) reloader_->ReloadAll();
  }

  void Shutdown() override {
    if (shut_down_.exchange(true) || grpc_server_ == nullptr) return;
    Log(LogLevel::kInfo, "draining", {{"pending_requests", correlator_.pending()}});
    reloader_.reset();
    ready_ = false;
    grpc_server_->GetHealthCheckService()->SetServingStatus(false);
    service_.BeginDrain();
    // After BeginDrain: the waiters then answer UNAVAILABLE.
    registry_.CloseWaiters();
    if (cluster_ != nullptr) cluster_->CloseWaiters();
    endpoint_->StopAccepting();
    const absl::Time drain_deadline = clock_.Now() + config_.drain_timeout;
    while (pending() > 0 && clock_.Now() < drain_deadline) absl::SleepFor(absl::Milliseconds(10));
    // Before the correlator fails what is in flight: a queued request handed
    // over and unanswered stays SENT on disk (UNCONFIRMED at the next start),
    // never back in the queue.
    queue_ticker_.reset();
    // Before the deliverer it sends through.
    jobs_.Stop();
    if (deliverer_ != nullptr) deliverer_->Stop();
    correlator_.FailAll(absl::UnavailableError("bridge is shutting down"));
    hub_.Close();
    grpc_server_->Shutdown(absl::ToChronoTime(absl::Now() + kCloseGrace));
    // After the gRPC server ended the event streams the gateway relays.
    if (gateway_ != nullptr) gateway_->Stop();
    endpoint_->CloseAll(close_code::kGoingAway, "bridge is shutting down");
    endpoint_->Stop(kCloseGrace);
    // Last, so the devices' goodbyes still reach the fleet.
    bus_.Stop();
    ticker_.reset();
    // After every goodbye reached the twins (the hub's observer outlives
    // Close): a last flush.
    if (persister_ != nullptr) persister_->Stop();
    Log(LogLevel::kInfo, "stopped");
  }

 private:
  // What SIGHUP and the --tls-reload-interval poll reload.
  std::vector<TlsReloader::Target> ReloadTargets() {
    std::vector<TlsReloader::Target> targets;
    if (tls_.wss != nullptr) {
      targets.push_back({"wss", {config_.tls_cert_file, config_.tls_key_file}, [this] { return tls_.wss->Reload(); }});
    }
    if (tls_.grpc != nullptr) {
      std::vector<std::string> files = {config_.grpc_tls_cert_file, config_.grpc_tls_key_file};
      if (!config_.grpc_client_ca_file.empty()) files.push_back(config_.grpc_client_ca_file);
      targets.push_back({"grpc", std::move(files), [this] { return tls_.grpc->Reload(); }});
    }
    return targets;
  }

  // --http-listen: the HTTP/JSON gateway, calling the gRPC service in-process
  // (so the backend policy and validation are the gRPC API's). HTTPS with the
  // gRPC port's certificate when it has one.
  absl::Status StartHttpGateway() {
    if (config_.http_listen.empty()) return absl::OkStatus();
    HttpGatewayOptions options;
    options.listen = config_.http_listen;
    options.tls_cert_file = config_.grpc_tls_cert_file;
    options.tls_key_file = config_.grpc_tls_key_file;
    options.threads = config_.http_threads;
    options.max_body_bytes = config_.max_message_bytes;
    options.counters = &counters_;
    absl::StatusOr<std::unique_ptr<HttpGateway>> gateway =
        HttpGateway::Start(options, grpc_server_->InProcessChannel(grpc::ChannelArguments()));
    if (!gateway.ok()) return gateway.status();
    gateway_ = *std::move(gateway);
    if (!config_.backend_policy_file.empty()) return absl::OkStatus();
    Log(LogLevel::kWarn, "http_gateway_without_policy", {{"http_port", gateway_->port()}});
    return absl::OkStatus();
  }

  // Requests in flight: delivered here, or routed to another replica.
  size_t pending() const { return correlator_.pending() + (cluster_ == nullptr ? 0 : cluster_->routed_pending()); }

  // Ready while serving and connected to the bus: a replica cut off from the
  // broker would only fail its callers.
  bool ready() const {
    return ready_ && bus_.connected() && (queue_ == nullptr || queue_->caught_up()) && jobs_.caught_up();
  }

  // Why ready() is false, for /readyz.
  std::string NotReadyReason() const {
    if (!ready_) return "not serving (starting or draining)";
    if (const BrokerState broker = bus_.broker_state(); broker != BrokerState::kConnected) {
      return absl::StrCat("message broker ", BrokerStateName(broker));
    }
    if (queue_ != nullptr && !queue_->caught_up()) return "queued-request view catching up";
    return "not ready";
  }

  // gRPC health follows readiness.
  void FollowBus() {
    const bool ready_now = ready();
    if (ready_now == serving_ || shut_down_) return;
    serving_ = ready_now;
    grpc_server_->GetHealthCheckService()->SetServingStatus(ready_now);
  }

  HttpResponse Route(absl::string_view path) {
    if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n"};
    if (path == "/readyz") {
      if (ready()) return {200, "text/plain; charset=utf-8", "ready\n"};
      return {503, "text/plain; charset=utf-8", absl::StrCat("not ready: ", NotReadyReason(), "\n")};
    }
    if (path == "/metrics") return {200, "text/plain; version=0.0.4; charset=utf-8", RenderMetrics(metrics_)};
    return {};
  }

  const Config config_;
  Clock& clock_ = TheClock();
  // Before every component that counts in it.
  LimitCounters counters_;
  DeviceCounters devices_;
  std::unique_ptr<DeviceAuthenticator> authenticator_;
  const BackendAccess access_;
  // Before the servers that use them.
  const TlsCredentials tls_;
  // Before the hub, which feeds it.
  TwinStore twins_;
  // Null without --state-dir.
  std::unique_ptr<TwinPersister> persister_;
  EventHub hub_;
  SessionRegistry registry_;
  RequestCorrelator correlator_;
  // How the cluster bus reaches this replica's devices (unused without one).
  ClusterLocalDevices cluster_devices_;
  // Null unless in cluster mode.
  std::unique_ptr<AmqpBus> cluster_;
  InprocBus inproc_;
  Bus& bus_;
  RequestOutcomeEvents outcomes_;
  // Queued requests and their deliverer: with --state-dir, or in cluster
  // mode (the replica's view of the fleet's queue); null otherwise.
  std::unique_ptr<RequestQueue> queue_;
  std::unique_ptr<QueueDeliverer> deliverer_;
  SessionServices services_;
  const SessionLimits limits_;
  // /metrics' histograms and labelled counters (prometheus-cpp), beside the
  // gauges MetricsSources reads from the components.
  prometheus::Registry prometheus_;
  GrpcCallMetrics grpc_metrics_{prometheus_};
  RequestMetrics request_metrics_{prometheus_};
  EventDeliveryMetrics event_delivery_{prometheus_};
  TraceHeaderMetrics trace_metrics_{prometheus_};
  JobMetrics job_metrics_{prometheus_};
  ProcessMetrics process_metrics_;
  DeviceBridgeService service_;
  FleetJobs jobs_;
  MetricsSources metrics_;
  std::unique_ptr<DeviceEndpoint> endpoint_;
  grpc::ResourceQuota grpc_quota_{"hivebridge-grpc"};
  std::unique_ptr<grpc::Server> grpc_server_;
  // Null without --http-listen.
  std::unique_ptr<HttpGateway> gateway_;
  int grpc_port_ = 0;
  std::unique_ptr<ExpiryTicker> ticker_;
  std::unique_ptr<ExpiryTicker> queue_ticker_;
  // Null until listening and after Shutdown.
  std::unique_ptr<TlsReloader> reloader_;
  std::atomic<bool> ready_{false};
  // What gRPC health says; only the ticker changes it.
  bool serving_ = true;
  std::atomic<bool> shut_down_{false};
};

}  // namespace

absl::StatusOr<std::unique_ptr<BridgeServer>> BridgeServer::Start(const Config& config) {
  std::optional<AmqpAddress> broker;
  if (config.bus != "inproc") {
    absl::StatusOr<AmqpAddress> address = ParseAmqpUrl(config.bus);
    if (!address.ok()) return address.status();
    broker = *std::move(address);
  }
  LogLevel level = LogLevel::kInfo;
  if (ParseLogLevel(config.log_level, &level)) SetLogLevel(level);
  LogFormat format = LogFormat::kLogfmt;
  if (ParseLogFormat(config.log_format, &format)) SetLogFormat(format);
  absl::StatusOr<std::shared_ptr<const MessageSigner>> signer = LoadClusterSigner(config, broker.has_value());
  if (!signer.ok()) return signer.status();
  absl::StatusOr<std::unique_ptr<DeviceAuthenticator>> authenticator = MakeAuthenticator(config, TheClock());
  if (!authenticator.ok()) return authenticator.status();
  absl::StatusOr<std::optional<BackendPolicy>> backend_policy = LoadBackendPolicy(config);
  if (!backend_policy.ok()) return backend_policy.status();
  absl::StatusOr<TlsCredentials> tls = LoadTls(config);
  if (!tls.ok()) return tls.status();
  if (absl::Status created = CreateStateDir(config); !created.ok()) return created;
  absl::StatusOr<StoredTwins> stored = OpenStoredTwins(config);
  if (!stored.ok()) return stored.status();
  absl::StatusOr<std::unique_ptr<RequestQueue>> queue = OpenRequestQueue(config, broker.has_value(), TheClock());
  if (!queue.ok()) return queue.status();
  absl::StatusOr<std::unique_ptr<JobStore>> job_store = FleetJobs::OpenStore(config, broker.has_value(), TheClock());
  if (!job_store.ok()) return job_store.status();
  auto server = std::make_unique<BridgeServerImpl>(config, *std::move(authenticator), broker, *std::move(signer),
                                                   *std::move(backend_policy), *std::move(tls), *std::move(stored),
                                                   *std::move(queue), *std::move(job_store));
  if (absl::Status status = server->Listen(); !status.ok()) return status;
  return server;
}

}  // namespace hive::server

#include "clients/device_sim/simulator_client.h"

#include <atomic>
#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <websocketpp/client.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bridge/close_codes.h"
#include "bridge/codec/dialect.h"
#include "bridge/log.h"
#include "clients/device_sim/client_config.h"
#include "clients/device_sim/connect_pacer.h"
#include "clients/device_sim/derived_ids.h"
#include "clients/device_sim/reconnect_backoff.h"
#include "clients/device_sim/simulated_device.h"

namespace hive::sim {
namespace {

// How often a shard looks for devices waiting to connect.
constexpr long kPacerTickMs = 10;
constexpr auto kRelaxed = std::memory_order_relaxed;

long Milliseconds(absl::Duration duration) { return static_cast<long>(absl::ToInt64Milliseconds(duration)); }

absl::StatusOr<std::shared_ptr<asio::ssl::context>> MakeTlsContext(const SimOptions& options) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  asio::error_code ec;
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                           asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1,
                       ec);
  if (options.tls_insecure) {
    context->set_verify_mode(asio::ssl::verify_none, ec);
  } else {
    context->set_verify_mode(asio::ssl::verify_peer, ec);
    if (!ec && !options.tls_ca_file.empty()) {
      context->load_verify_file(options.tls_ca_file, ec);
    } else if (!ec) {
      context->set_default_verify_paths(ec);
    }
  }
  if (ec) return absl::InvalidArgumentError(absl::StrCat("TLS setup failed: ", ec.message()));
  return context;
}

// One I/O thread's part of the simulation, type-erased over the transport.
class Shard {
 public:
  virtual ~Shard() = default;
  virtual absl::Status Init() = 0;
  virtual void Run() = 0;
  // Asynchronous: stop connecting and close every open connection.
  virtual void CloseAll() = 0;
  // Connections begun and not yet ended, for Stop's wait.
  virtual int64_t live() const = 0;
  // Stops the I/O loop and joins its thread.
  virtual void Join() = 0;
};

template <typename Config>
class ShardOf final : public Shard {
 public:
  ShardOf(const SimOptions& options, const DeviceRoster& roster, SimStats& stats, const std::vector<size_t>& indices,
          uint64_t seed)
      : options_(options),
        roster_(roster),
        stats_(stats),
        random_(seed),
        pacer_(options.connect_rate * static_cast<double>(indices.size()) / static_cast<double>(roster.size()),
               absl::Now()) {
    for (size_t index : indices) {
      const RosterEntry& entry = roster.entry(index);
      slots_.emplace_back(index, SimulatedDevice(entry, options.dialect, options.on_request,
                                                 DerivedSeed(options.seed, entry.device_id, 0)));
      waiting_.push_back(&slots_.back());
    }
  }

  absl::Status Init() override {
    websocketpp::lib::error_code ec;
    client_.init_asio(ec);
    if (ec) return absl::InternalError(absl::StrCat("websocket client setup failed: ", ec.message()));
    if constexpr (std::is_same_v<Config, TlsClientConfig>) {
      absl::StatusOr<std::shared_ptr<asio::ssl::context>> context = MakeTlsContext(options_);
      if (!context.ok()) return context.status();
      client_.set_tls_init_handler([context = *context](const websocketpp::connection_hdl&) { return context; });
      if (!options_.tls_insecure) {
        const std::string host = websocketpp::uri(options_.url).get_host();
        client_.set_socket_init_handler(
            [host](const websocketpp::connection_hdl&, asio::ssl::stream<asio::ip::tcp::socket>& stream) {
              stream.set_verify_callback(asio::ssl::host_name_verification(host));
            });
      }
    }
    client_.start_perpetual();
    return absl::OkStatus();
  }

  void Run() override {
    asio::post(client_.get_io_service(), [this] { Tick(); });
    thread_ = std::thread([this] { client_.run(); });
  }

  void CloseAll() override {
    asio::post(client_.get_io_service(), [this] {
      stopping_ = true;
      waiting_.clear();
      for (Slot& slot : slots_) {
        if (!slot.open) continue;
        websocketpp::lib::error_code ec;
        client_.close(slot.connection, websocketpp::close::status::normal, "simulation over", ec);
      }
    });
  }

  int64_t live() const override { return live_.load(kRelaxed); }

  void Join() override {
    client_.stop_perpetual();
    client_.stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  using Client = websocketpp::client<Config>;
  using Reply = SimulatedDevice::Reply;

  // One device and its current connection. Timers remember the generation
  // they were set for, so one that fires after its connection ended does
  // nothing.
  struct Slot {
    Slot(size_t index, SimulatedDevice simulated) : roster_index(index), device(std::move(simulated)) {}

    size_t roster_index;
    SimulatedDevice device;
    websocketpp::connection_hdl connection;
    uint64_t generation = 0;
    bool open = false;
    bool authenticated = false;
    bool ever_authenticated = false;
    bool attempted = false;
    int failures = 0;  // since the last authentication, for the backoff
    absl::Time next_event;
  };

  void Tick() {
    if (stopping_) return;
    for (size_t n = pacer_.Take(absl::Now(), waiting_.size()); n > 0; --n) {
      Slot& slot = *waiting_.front();
      waiting_.pop_front();
      Connect(slot);
    }
    client_.set_timer(kPacerTickMs, [this](const websocketpp::lib::error_code& ec) {
      if (!ec) Tick();
    });
  }

  const std::string& device_id(const Slot& slot) const { return slot.device.identity().device_id; }

  void Connect(Slot& slot) {
    if (slot.attempted) stats_.reconnects.fetch_add(1, kRelaxed);
    slot.attempted = true;
    absl::StatusOr<std::string> token = roster_.TokenFor(slot.roster_index);
    if (!token.ok()) {
      Log(LogLevel::kError, "token_failed", {{"device", device_id(slot)}, {"error", token.status().message()}});
      Retry(slot);
      return;
    }
    websocketpp::lib::error_code ec;
    typename Client::connection_ptr connection = client_.get_connection(options_.url, ec);
    if (!ec) connection->add_subprotocol(std::string(codec::SubprotocolOf(options_.dialect)), ec);
    if (ec) {
      Log(LogLevel::kError, "connect_failed", {{"device", device_id(slot)}, {"error", ec.message()}});
      Retry(slot);
      return;
    }
    std::string first_message;
    if (options_.auth == AuthMode::kHeader) {
      connection->append_header("Authorization", SimulatedDevice::BearerCredential(*token));
    } else {
      first_message = SimulatedDevice::BearerCredential(*token);
    }
    Slot* const s = &slot;
    connection->set_open_handler(
        [this, s, first_message](websocketpp::connection_hdl hdl) { OnOpen(*s, hdl, first_message); });
    connection->set_message_handler(
        [this, s](const websocketpp::connection_hdl&, const typename Client::message_ptr& message) {
          // The protocol has no binary frames from the bridge.
          if (message->get_opcode() == websocketpp::frame::opcode::text) OnMessage(*s, message->get_payload());
        });
    connection->set_close_handler([this, s](websocketpp::connection_hdl hdl) { OnClose(*s, hdl); });
    connection->set_fail_handler([this, s](websocketpp::connection_hdl hdl) { OnFail(*s, hdl); });
    ++slot.generation;
    slot.connection = connection->get_handle();
    live_.fetch_add(1, kRelaxed);
    client_.connect(connection);
  }

  void OnOpen(Slot& slot, websocketpp::connection_hdl hdl, const std::string& first_message) {
    slot.open = true;
    stats_.connected.fetch_add(1, kRelaxed);
    websocketpp::lib::error_code ec;
    if (stopping_) {  // opened after CloseAll went by
      client_.close(hdl, websocketpp::close::status::normal, "simulation over", ec);
      return;
    }
    // websocketpp's get_subprotocol() is only filled in on servers; a client
    // finds the bridge's choice in the handshake response.
    const std::string subprotocol = client_.get_con_from_hdl(hdl)->get_response_header("Sec-WebSocket-Protocol");
    // A bridge that ignores the asked-for dialect would read every frame
    // wrongly; better to say so once than to count errors.
    if (codec::DialectOfSubprotocol(subprotocol).value_or(codec::Dialect::kStandard) != options_.dialect) {
      Log(LogLevel::kError, "dialect_refused",
          {{"device", device_id(slot)}, {"asked", codec::SubprotocolOf(options_.dialect)}, {"got", subprotocol}});
      client_.close(hdl, websocketpp::close::status::protocol_error, "subprotocol not negotiated", ec);
      return;
    }
    if (!first_message.empty()) Send(slot, first_message);
  }

  void OnMessage(Slot& slot, const std::string& frame) {
    SimulatedDevice::Reaction reaction = slot.device.OnFrame(frame);
    if (reaction.authenticated && !slot.authenticated) OnAuthenticated(slot);
    stats_.requests_received.fetch_add(static_cast<int64_t>(reaction.request_ids.size()), kRelaxed);
    if (!reaction.request_ids.empty()) {
      const absl::Time now = absl::Now();
      for (const std::string& id : reaction.request_ids) stats_.ledger.Record(device_id(slot), id, now);
    }
    for (const std::string& error : reaction.bridge_errors) {
      stats_.bridge_errors.fetch_add(1, kRelaxed);
      Log(LogLevel::kWarn, "bridge_error", {{"device", device_id(slot)}, {"error", error}});
    }
    for (const std::string& problem : reaction.unreadable) {
      Log(LogLevel::kWarn, "unreadable_frame", {{"device", device_id(slot)}, {"problem", problem}});
    }
    for (Reply& reply : reaction.replies) {
      if (reply.delay <= absl::ZeroDuration()) {
        SendReply(slot, reply);
        continue;
      }
      Slot* const s = &slot;
      // The delay is read before the lambda takes the reply: the two
      // arguments are evaluated in no set order.
      const long delay_ms = Milliseconds(reply.delay);
      client_.set_timer(delay_ms, [this, s, generation = slot.generation,
                                   reply = std::move(reply)](const websocketpp::lib::error_code& ec) {
        if (!ec && s->generation == generation && s->open) SendReply(*s, reply);
      });
    }
  }

  void OnAuthenticated(Slot& slot) {
    slot.authenticated = true;
    slot.failures = 0;
    stats_.authenticated.fetch_add(1, kRelaxed);
    if (!slot.ever_authenticated) {
      slot.ever_authenticated = true;
      stats_.authenticated_devices.fetch_add(1, kRelaxed);
    }
    if (options_.event_rate <= 0) return;
    // A random phase spreads the devices' events over the period instead of
    // sending them in lockstep.
    const absl::Duration period = absl::Seconds(1 / options_.event_rate);
    const absl::Duration phase = period * std::uniform_real_distribution<double>(0, 1)(random_);
    slot.next_event = absl::Now() + phase;
    ScheduleEvent(slot, phase);
  }

  void ScheduleEvent(Slot& slot, absl::Duration wait) {
    Slot* const s = &slot;
    client_.set_timer(Milliseconds(wait),
                      [this, s, generation = slot.generation](const websocketpp::lib::error_code& ec) {
                        if (ec || s->generation != generation || !s->authenticated) return;
                        if (Send(*s, s->device.NextEvent())) stats_.events_sent.fetch_add(1, kRelaxed);
                        // From the schedule, not from now, so timer latency does not lower the rate.
                        s->next_event += absl::Seconds(1 / options_.event_rate);
                        ScheduleEvent(*s, std::max(absl::ZeroDuration(), s->next_event - absl::Now()));
                      });
  }

  bool Send(Slot& slot, const std::string& frame) {
    if (stopping_) return false;  // our closing handshakes are under way
    websocketpp::lib::error_code ec;
    client_.send(slot.connection, frame, websocketpp::frame::opcode::text, ec);
    if (ec) Log(LogLevel::kWarn, "send_failed", {{"device", device_id(slot)}, {"error", ec.message()}});
    return !ec;
  }

  void SendReply(Slot& slot, const Reply& reply) {
    if (!Send(slot, reply.frame)) return;
    (reply.kind == Reply::Kind::kAck ? stats_.acks_sent : stats_.results_sent).fetch_add(1, kRelaxed);
  }

  void OnClose(Slot& slot, websocketpp::connection_hdl hdl) {
    typename Client::connection_ptr connection = client_.get_con_from_hdl(hdl);
    live_.fetch_add(-1, kRelaxed);
    if (slot.open) stats_.connected.fetch_add(-1, kRelaxed);
    if (slot.authenticated) stats_.authenticated.fetch_add(-1, kRelaxed);
    slot.open = false;
    slot.authenticated = false;
    if (stopping_) return;  // our own closes at the end are not news
    const int code = connection->get_remote_close_code();
    stats_.RecordClose(code);
    // The newer connection wins (docs/protocol.md §8): coming back would only
    // evict it, and two simulators with the same ids would evict each other
    // forever, each freshly authenticated and so never backing off.
    const std::optional<absl::Duration> wait = code == close_code::kReplaced ? std::nullopt : Retry(slot);
    Log(LogLevel::kInfo, "closed",
        {{"device", device_id(slot)},
         {"code", code},
         {"reason", connection->get_remote_close_reason()},
         {"reconnect_in", wait ? absl::FormatDuration(*wait) : "never"}});
  }

  void OnFail(Slot& slot, websocketpp::connection_hdl hdl) {
    typename Client::connection_ptr connection = client_.get_con_from_hdl(hdl);
    live_.fetch_add(-1, kRelaxed);
    stats_.connect_failures.fetch_add(1, kRelaxed);
    if (stopping_) return;
    const std::optional<absl::Duration> wait = Retry(slot);
    Log(LogLevel::kWarn, "connect_failed",
        {{"device", device_id(slot)},
         {"error", connection->get_ec().message()},
         {"http_status", static_cast<int>(connection->get_response_code())},
         {"reconnect_in", wait ? absl::FormatDuration(*wait) : "never"}});
  }

  // Puts the device back in the connect queue after its backoff; returns
  // the wait, or nothing when --no-reconnect.
  std::optional<absl::Duration> Retry(Slot& slot) {
    if (!options_.reconnect || stopping_) return std::nullopt;
    const absl::Duration wait = ReconnectDelay(slot.failures++, std::uniform_real_distribution<double>(0, 1)(random_));
    Slot* const s = &slot;
    client_.set_timer(Milliseconds(wait), [this, s](const websocketpp::lib::error_code& ec) {
      if (!ec && !stopping_) waiting_.push_back(s);
    });
    return wait;
  }

  const SimOptions& options_;
  const DeviceRoster& roster_;
  SimStats& stats_;
  Client client_;
  std::thread thread_;
  // Everything below belongs to the I/O thread.
  std::deque<Slot> slots_;  // a deque: slots never move, timers point at them
  std::deque<Slot*> waiting_;
  std::mt19937_64 random_;
  ConnectPacer pacer_;
  bool stopping_ = false;
  std::atomic<int64_t> live_{0};
};

class ShardedClient final : public SimulatorClient {
 public:
  explicit ShardedClient(std::vector<std::unique_ptr<Shard>> shards) : shards_(std::move(shards)) {}

  ~ShardedClient() override { Stop(absl::ZeroDuration()); }

  void Stop(absl::Duration grace) override {
    if (stopped_) return;
    stopped_ = true;
    for (auto& shard : shards_) shard->CloseAll();
    const absl::Time deadline = absl::Now() + grace;
    while (absl::Now() < deadline && Live() > 0) absl::SleepFor(absl::Milliseconds(20));
    for (auto& shard : shards_) shard->Join();
  }

 private:
  int64_t Live() const {
    int64_t live = 0;
    for (const auto& shard : shards_) live += shard->live();
    return live;
  }

  std::vector<std::unique_ptr<Shard>> shards_;
  bool stopped_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SimulatorClient>> SimulatorClient::Start(const SimOptions& options,
                                                                        const DeviceRoster& roster, SimStats& stats) {
  const bool secure = websocketpp::uri(options.url).get_secure();
  const size_t threads = std::min(static_cast<size_t>(options.threads), roster.size());
  std::vector<std::unique_ptr<Shard>> shards;
  for (size_t t = 0; t < threads; ++t) {
    std::vector<size_t> indices;
    for (size_t i = t; i < roster.size(); i += threads) indices.push_back(i);
    const uint64_t seed = DerivedSeed(options.seed, "shard", t);
    std::unique_ptr<Shard> shard;
    if (secure) {
      shard = std::make_unique<ShardOf<TlsClientConfig>>(options, roster, stats, indices, seed);
    } else {
      shard = std::make_unique<ShardOf<PlainClientConfig>>(options, roster, stats, indices, seed);
    }
    if (absl::Status status = shard->Init(); !status.ok()) return status;
    shards.push_back(std::move(shard));
  }
  for (auto& shard : shards) shard->Run();
  return std::make_unique<ShardedClient>(std::move(shards));
}

}  // namespace hive::sim

#include "clients/loadgen/event_emitter.h"

#include <atomic>
#include <thread>
#include <utility>

#include <websocketpp/client.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bridge/codec/dialect.h"
#include "clients/device_sim/client_config.h"
#include "clients/device_sim/simulated_device.h"

namespace hive::loadgen {
namespace {

using Client = websocketpp::client<sim::PlainClientConfig>;

constexpr long kTimeoutScanMs = 50;

class WebSocketEmitter final : public EventEmitter {
 public:
  WebSocketEmitter(Options options, const sim::DeviceRoster* roster, DeliveryLedger& ledger)
      : options_(std::move(options)), roster_(roster), ledger_(ledger) {}

  ~WebSocketEmitter() override { Stop(); }

  absl::Status Connect() {
    websocketpp::lib::error_code ec;
    client_.init_asio(ec);
    if (ec) return absl::InternalError(absl::StrCat("websocket client setup failed: ", ec.message()));
    client_.start_perpetual();
    const size_t emitters = options_.identities.size();
    for (size_t i = 0; i < emitters; ++i) {
      const std::string& url = options_.urls[i % options_.urls.size()];
      if (!absl::StartsWith(url, "ws://"))
        return absl::InvalidArgumentError(absl::StrCat("--ws-url: ws:// only, got ", url));
      devices_.push_back(std::make_unique<Device>(options_.identities[i]));
      if (absl::Status status = Open(static_cast<uint32_t>(i), url); !status.ok()) return status;
    }
    for (size_t i = 0; i < emitters * options_.window; ++i)
      slots_.push_back({static_cast<uint32_t>(i / options_.window)});
    thread_ = std::thread([this] { client_.run(); });
    absl::MutexLock lock(&mu_);
    const auto settled = [this, emitters]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return static_cast<size_t>(ready_) + static_cast<size_t>(failed_) == emitters;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&settled), options_.ready_timeout) || failed_ > 0) {
      return absl::UnavailableError(absl::StrCat(ready_, " of ", emitters, " emitters ready within ",
                                                 absl::FormatDuration(options_.ready_timeout), ": ", failure_));
    }
    return absl::OkStatus();
  }

  void Fire() override {
    asio::post(client_.get_io_service(), [this] {
      for (uint32_t slot = 0; slot < slots_.size(); ++slot) Send(slot);
      ScanForTimeouts();
    });
  }

  void Refill(const EventStamp& stamp) override {
    asio::post(client_.get_io_service(), [this, stamp] { RefillHere(stamp); });
  }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    if (!thread_.joinable()) return;
    asio::post(client_.get_io_service(), [this] {
      stopping_ = true;
      for (auto& device : devices_) {
        websocketpp::lib::error_code ignored;
        client_.close(device->connection, websocketpp::close::status::normal, "load over", ignored);
      }
    });
    for (int i = 0; i < 50 && open_.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    client_.stop_perpetual();
    client_.stop();
    thread_.join();
  }

  int64_t errors() const override { return errors_.load(std::memory_order_relaxed); }
  size_t frame_bytes() const override { return devices_.empty() ? 0 : devices_[0]->frame.With({}).size(); }

 private:
  struct Device {
    explicit Device(const sim::RosterEntry& identity)
        : frame(identity.device_id, identity.account_id),
          simulated(identity, codec::Dialect::kStandard, sim::RequestPolicy{}, 0) {}
    StampedEventFrame frame;
    sim::SimulatedDevice simulated;  // reads the bridge's replies
    websocketpp::connection_hdl connection;
  };
  struct Slot {
    uint32_t device;
    uint64_t seq = 0;
    int64_t sent_nanos = 0;
  };

  absl::Status Open(uint32_t index, const std::string& url) {
    websocketpp::lib::error_code ec;
    Client::connection_ptr connection = client_.get_connection(url, ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("--ws-url ", url, ": ", ec.message()));
    if (roster_ != nullptr) {
      absl::StatusOr<std::string> token = roster_->TokenFor(index);
      if (!token.ok()) return token.status();
      connection->append_header("Authorization", sim::SimulatedDevice::BearerCredential(*token));
      connection->add_subprotocol(std::string(codec::kStandardSubprotocol), ec);
    }
    connection->set_open_handler([this](const websocketpp::connection_hdl& hdl) {
      open_.fetch_add(1);
      // Small frames go out at once, as a device's would; Nagle's wait for
      // the previous frame's ACK would be measured as the server's latency.
      asio::error_code ignored;
      client_.get_con_from_hdl(hdl)->get_raw_socket().set_option(asio::ip::tcp::no_delay(true), ignored);
      if (options_.echo) MarkReady();
    });
    connection->set_fail_handler([this, index](const websocketpp::connection_hdl& hdl) {
      MarkFailed(absl::StrCat("emitter ", index, ": ", client_.get_con_from_hdl(hdl)->get_ec().message()));
    });
    connection->set_close_handler([this, index](const websocketpp::connection_hdl& hdl) {
      open_.fetch_sub(1);
      if (!stopping_) {
        MarkFailed(
            absl::StrCat("emitter ", index, " closed with ", client_.get_con_from_hdl(hdl)->get_remote_close_code()));
      }
    });
    connection->set_message_handler(
        [this, index](const websocketpp::connection_hdl&, const Client::message_ptr& message) {
          OnMessage(*devices_[index], message->get_payload());
        });
    devices_[index]->connection = connection->get_handle();
    client_.connect(connection);
    return absl::OkStatus();
  }

  void OnMessage(Device& device, const std::string& frame) {
    if (options_.echo) {
      // The echo server's receipt: the emitter is the event's only receiver.
      const std::optional<EventStamp> stamp = StampOfFrame(frame);
      if (stamp && ledger_.Deliver(*stamp, SteadyNanos())) RefillHere(*stamp);
      return;
    }
    const sim::SimulatedDevice::Reaction reaction = device.simulated.OnFrame(frame);
    if (reaction.authenticated) MarkReady();
    errors_.fetch_add(static_cast<int64_t>(reaction.bridge_errors.size()), std::memory_order_relaxed);
  }

  void MarkReady() {
    absl::MutexLock lock(&mu_);
    ++ready_;
  }

  void MarkFailed(std::string why) {
    absl::MutexLock lock(&mu_);
    ++failed_;
    if (failure_.empty()) failure_ = std::move(why);
  }

  void RefillHere(const EventStamp& stamp) {
    if (stamp.slot < slots_.size() && slots_[stamp.slot].seq == stamp.seq) Send(stamp.slot);
  }

  void Send(uint32_t index) {
    if (stopping_) return;
    Slot& slot = slots_[index];
    Device& device = *devices_[slot.device];
    slot.seq = ledger_.Arm(index);
    slot.sent_nanos = SteadyNanos();
    websocketpp::lib::error_code ec;
    client_.send(device.connection, device.frame.With({index, slot.seq, slot.sent_nanos}),
                 websocketpp::frame::opcode::text, ec);
    if (ec) errors_.fetch_add(1, std::memory_order_relaxed);
  }

  // Events no receiver completed in time are lost; their slots move on.
  void ScanForTimeouts() {
    const int64_t now = SteadyNanos();
    const int64_t timeout = absl::ToInt64Nanoseconds(options_.event_timeout);
    for (uint32_t index = 0; index < slots_.size(); ++index) {
      const Slot& slot = slots_[index];
      if (now - slot.sent_nanos > timeout && ledger_.Retire(index, slot.seq)) Send(index);
    }
    client_.set_timer(kTimeoutScanMs, [this](const websocketpp::lib::error_code& ec) {
      if (!ec && !stopping_) ScanForTimeouts();
    });
  }

  const Options options_;
  const sim::DeviceRoster* roster_;
  DeliveryLedger& ledger_;
  Client client_;
  std::thread thread_;
  std::atomic<bool> stopped_{false};
  std::atomic<int> open_{0};
  std::atomic<int64_t> errors_{0};
  // The I/O thread's own.
  std::vector<std::unique_ptr<Device>> devices_;
  std::vector<Slot> slots_;
  bool stopping_ = false;

  absl::Mutex mu_;
  int ready_ ABSL_GUARDED_BY(mu_) = 0;
  int failed_ ABSL_GUARDED_BY(mu_) = 0;
  std::string failure_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<EventEmitter>> EventEmitter::Start(const Options& options,
                                                                  const sim::DeviceRoster* roster,
                                                                  DeliveryLedger& ledger) {
  auto emitter = std::make_unique<WebSocketEmitter>(options, roster, ledger);
  if (absl::Status status = emitter->Connect(); !status.ok()) return status;
  return emitter;
}

}  // namespace hive::loadgen

// fuzz/device_session_fuzzer.cc
// Fuzzes a whole hive::DeviceSession: a sequence of transport callbacks and
// backend actions, driven through the unit tests' fake transport with a fake
// clock, a real JwtAuthenticator (HS256, the fuzz secret), registry,
// correlator and event hub.
//
// Input: a flags byte, then steps separated by 0x1E (ASCII record separator,
// which valid JSON text never holds raw). Flags:
//   bit 0  hive.compact.v1 (else hive.v1)
//   bit 1  the upgrade request carries a valid Authorization header token
//   bit 2  max_bad_frames 2 (else 10)
//   bit 3  send queue of 2 frames (else 256)
// A step that is one of these single bytes is an action; any other step is a
// text frame from the device (OnText):
//   0x01 binary frame            0x02 pong
//   0x03 1 s pass                0x04 30 s pass (timers due then fire)
//   0x05 backend request, wait for the ack
//   0x06 backend request, wait for the result
//   0x07 the correlator's and registry's periodic expiry
//   0x08 the bridge closes the link (DeviceLink::Close, 1001)
//   0x09 the transport reports the close (OnClosed)
//   0x0A text frame "Bearer <valid token>"
//   0x0B a new connection of the same device, with the header token
//   0x0C a new connection without one (it must authenticate in-band)
//   0x0D backend request that first waits for the device to connect
//   0x0E text frame "Bearer <token of another device, same account>"
//   0x0F text frame "Bearer <token whose exp is 90 s after the start>"
//   0x10 text frame "Bearer <token whose exp is 2 h after the start>"
//   0x11 text frame "Bearer <token that expired an hour before the start>"
// The Bearer actions sent while authenticated are token refreshes (the valid
// token of 0x0A expires 1 h after the start, so 0x0A, 0x0F and 0x10 move the
// expiry back and forth).
// Steps act on the newest connection. Backend requests use four fixed
// request ids (the first is the golden files' one), so responses can name
// them.
//
// Checks, after every step: each frame sent to a device is a UTF-8 JSON
// object; nothing is sent after the transport was closed; every event
// published carries the authenticated identity and the right service, and no
// device event has a type reserved for the bridge; a connection closes with
// "token expired" only once the clock has reached its token's exp plus the
// leeway (of the last token accepted), and once time has passed beyond that
// (every timer due fired) it is closed. At the end, once every connection has
// closed: the registry is empty and every backend waiter completed exactly
// once.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "bridge/auth/jwt_authenticator.h"
#include "bridge/bus/inproc_bus.h"
#include "bridge/close_codes.h"
#include "bridge/codec/device_event.h"
#include "bridge/codec/device_request.h"
#include "bridge/codec/json_document.h"
#include "bridge/device_session.h"
#include "bridge/event_hub.h"
#include "bridge/log.h"
#include "bridge/request_correlator.h"
#include "bridge/session_registry.h"
#include "fuzz/fuzz_support.h"
#include "tests/unit/support/fake_clock.h"
#include "tests/unit/support/fake_device_transport.h"
#include "tests/unit/support/test_tokens.h"

namespace hive::fuzz {
namespace {

using hive::bridge::v1::DeviceEvent;
using hive::bridge::v1::SendDeviceRequestResponse;

constexpr char kSeparator = '\x1e';
constexpr size_t kMaxConnections = 8;
constexpr char kOtherDevice[] = "00000000-0000-4000-8000-00000000d0d0";
// JwtAuthenticatorOptions' default, which the harness's authenticator uses.
constexpr absl::Duration kLeeway = absl::Seconds(30);
constexpr const char* kRequestIds[] = {"5e5b0ee5-8774-4ebb-807c-48c9c26c16f8", "00000000-0000-4000-8000-000000000001",
                                       "00000000-0000-4000-8000-000000000002", "00000000-0000-4000-8000-000000000003"};

enum Action : char {
  kBinary = 0x01,
  kPong = 0x02,
  kSecondPasses = 0x03,
  kPingIntervalPasses = 0x04,
  kRequestAck = 0x05,
  kRequestResult = 0x06,
  kExpire = 0x07,
  kBridgeCloses = 0x08,
  kTransportClosed = 0x09,
  kBearerMessage = 0x0A,
  kReconnect = 0x0B,
  kReconnectInQuarantine = 0x0C,
  kRequestAfterConnect = 0x0D,
  kBearerOtherDevice = 0x0E,
  kBearerShortLived = 0x0F,
  kBearerLongLived = 0x10,
  kBearerExpired = 0x11,
};

// A token the harness minted: its text and when it stops being accepted.
struct Minted {
  std::string token;
  absl::Time valid_until;
};

Minted Mint(absl::string_view device, absl::Duration exp_after_start) {
  const absl::Time exp = absl::FromUnixSeconds(kClockStart) + exp_after_start;
  return {testing::MintHs256(kSecret, device, kAccount, exp), exp + kLeeway};
}

const Minted& ValidToken() {
  static const Minted* const token = new Minted(Mint(kDevice, absl::Hours(1)));
  return *token;
}

// The token of a Bearer action.
const Minted& TokenOf(char action) {
  static const Minted* const other = new Minted(Mint(kOtherDevice, absl::Hours(1)));
  static const Minted* const short_lived = new Minted(Mint(kDevice, absl::Seconds(90)));
  static const Minted* const long_lived = new Minted(Mint(kDevice, absl::Hours(2)));
  static const Minted* const expired = new Minted(Mint(kDevice, -absl::Hours(1)));
  switch (action) {
    case kBearerOtherDevice:
      return *other;
    case kBearerShortLived:
      return *short_lived;
    case kBearerLongLived:
      return *long_lived;
    case kBearerExpired:
      return *expired;
    default:
      return ValidToken();
  }
}

EventHub::Options HubOptions() {
  EventHub::Options options;
  options.history_capacity = 64;  // nobody resumes here
  return options;
}

struct Connection {
  std::unique_ptr<testing::TransportLog> log;
  std::shared_ptr<DeviceSession> session;
  size_t checked_frames = 0;
  bool closed_seen = false;
  size_t sent_at_close = 0;
  bool on_closed_called = false;
  // When the last token the session accepted stops being valid; unknown
  // after a text step that may have been a refresh with a token the
  // harness did not mint.
  std::optional<absl::Time> valid_until;
};

struct Timer {
  absl::Time due;
  absl::AnyInvocable<void()> task;
};

class Harness {
 public:
  explicit Harness(uint8_t flags)
      : dialect_((flags & 1) != 0 ? codec::Dialect::kCompact : codec::Dialect::kStandard),
        authenticator_(*JwtAuthenticator::FromHs256Secret(std::string(kSecret), clock_)),
        hub_(clock_, HubOptions(), "fuzz-epoch"),
        bus_(hub_),
        registry_(clock_),
        correlator_(clock_, {}),
        services_{clock_, *authenticator_, registry_, correlator_, bus_, "fuzz-replica"} {
    limits_.max_bad_frames = (flags & 4) != 0 ? 2 : 10;
    limits_.send_queue = (flags & 8) != 0 ? 2 : 256;
    subscription_ = hub_.Subscribe(EventFilter(), std::nullopt, [] {});
    Connect((flags & 2) != 0);
  }

  ~Harness() {
    // The end of the input: every connection goes away, then shutdown.
    for (Connection& connection : connections_) {
      if (!connection.on_closed_called) connection.session->OnClosed(1006, "fuzz input ended", ClosedBy::kNeither);
      connection.on_closed_called = true;
    }
    Settle();
    registry_.CloseWaiters();
    HIVE_FUZZ_CHECK(registry_.size() == 0, "the registry keeps a link of a closed connection");
    correlator_.FailAll(absl::UnavailableError("shutting down"));
    HIVE_FUZZ_CHECK(*completed_ == waiters_, waiters_, " backend waiters, ", *completed_, " completed");
  }

  void Step(absl::string_view step) {
    Connection& current = connections_.back();
    DeviceSession& session = *current.session;
    if (step.size() != 1) {
      Text(current, step);
    } else {
      switch (step[0]) {
        case kBinary:
          session.OnBinary();
          break;
        case kPong:
          session.OnPong();
          break;
        case kSecondPasses:
          Advance(absl::Seconds(1));
          break;
        case kPingIntervalPasses:
          Advance(absl::Seconds(30));
          break;
        case kRequestAck:
          BackendRequest(hive::bridge::v1::WAIT_MODE_ACK, false);
          break;
        case kRequestResult:
          BackendRequest(hive::bridge::v1::WAIT_MODE_RESULT, false);
          break;
        case kRequestAfterConnect:
          BackendRequest(hive::bridge::v1::WAIT_MODE_ACK, true);
          break;
        case kExpire:
          correlator_.ExpireDue();
          registry_.ExpireDue();
          break;
        case kBridgeCloses:
          session.Close(1001, "bridge shutting down");
          break;
        case kTransportClosed:
          if (!current.on_closed_called) {
            current.on_closed_called = true;
            if (current.log->closed) {
              session.OnClosed(current.log->close_code, current.log->close_reason, ClosedBy::kBridge);
            } else {
              session.OnClosed(1006, "closed", ClosedBy::kNeither);
            }
          }
          break;
        case kBearerMessage:
        case kBearerOtherDevice:
        case kBearerShortLived:
        case kBearerLongLived:
        case kBearerExpired:
          // Another device's token is a refresh to refuse; in quarantine it
          // would open a session the identity checks do not expect.
          Bearer(current,
                 step[0] == kBearerOtherDevice && !current.session->authenticated() ? ValidToken() : TokenOf(step[0]));
          break;
        case kReconnect:
        case kReconnectInQuarantine:
          if (connections_.size() < kMaxConnections) Connect(step[0] == kReconnect);
          break;
        default:
          Text(current, step);
      }
    }
    Settle();
  }

 private:
  void Connect(bool with_header_token) {
    Connection connection;
    connection.log = std::make_unique<testing::TransportLog>();
    connection.session = std::make_shared<DeviceSession>(
        services_, limits_, std::make_unique<testing::FakeDeviceTransport>(*connection.log), dialect_);
    connections_.push_back(std::move(connection));
    Connection& added = connections_.back();
    added.session->Start(with_header_token ? std::optional<std::string>(ValidToken().token) : std::nullopt);
    if (added.session->authenticated() && !added.log->closed) added.valid_until = ValidToken().valid_until;
    Settle();
  }

  // A text frame from the fuzz input. One that reads as a bearer credential
  // may be a token the harness cannot know the expiry of.
  void Text(Connection& connection, absl::string_view text) {
    const bool was_open = connection.session->authenticated() && !connection.log->closed;
    connection.session->OnText(text);
    const bool open = connection.session->authenticated() && !connection.log->closed;
    if (open && (!was_open || absl::StartsWithIgnoreCase(text, "bearer "))) connection.valid_until.reset();
  }

  // "Bearer TOKEN": the authentication in quarantine, a refresh after it.
  void Bearer(Connection& connection, const Minted& token) {
    const bool was_open = connection.session->authenticated() && !connection.log->closed;
    const size_t sent_before = connection.log->sent.size();
    connection.session->OnText("Bearer " + token.token);
    const bool open = connection.session->authenticated() && !connection.log->closed;
    if (!open) return;
    connection.valid_until = token.valid_until;
    if (was_open) {
      // A refresh that kept the session is answered with `authenticated`.
      HIVE_FUZZ_CHECK(connection.log->sent.size() == sent_before + 1 &&
                          absl::StrContains(connection.log->sent.back(), "authenticated"),
                      "a refresh was not answered with one authenticated reply");
    }
  }

  // What the backend's SendDeviceRequest does (server/), minus gRPC.
  void BackendRequest(hive::bridge::v1::WaitMode mode, bool wait_for_connect) {
    const std::string request_id = kRequestIds[requests_++ % 4];
    ++waiters_;
    auto done_once = std::make_shared<bool>(false);
    auto registration =
        correlator_.Await(request_id, std::string(kDevice), /*digest=*/0, mode, clock_.Now() + absl::Seconds(5),
                          [done_once, completed = completed_](const absl::StatusOr<SendDeviceRequestResponse>&) {
                            HIVE_FUZZ_CHECK(!*done_once, "a backend waiter completed twice");
                            *done_once = true;
                            ++*completed;
                          });
    if (registration.role != RequestCorrelator::Role::kSendNow) return;
    hive::bridge::v1::DeviceRequest request;
    request.set_request_id(request_id);
    request.set_device_id(std::string(kDevice));
    request.set_account_id(std::string(kAccount));
    request.mutable_command()->mutable_raw()->set_command("Diagnostics.collect_logs");
    (*request.mutable_command()->mutable_raw()->mutable_payload()->mutable_fields())["lines"].set_number_value(500);
    auto send = [this, request_id, waiter = registration.waiter, request](const std::shared_ptr<DeviceLink>& link) {
      if (link == nullptr) {
        correlator_.Fail(request_id, waiter, absl::NotFoundError("device not connected"));
        return;
      }
      absl::StatusOr<std::string> frame = codec::EncodeDeviceRequest(request, link->dialect());
      HIVE_FUZZ_CHECK(frame.ok(), "a backend request does not encode: ", frame.status().ToString());
      // The link marks it sent when it writes it, or fails it unwritten.
      if (absl::Status queued = link->SendRequest(*std::move(frame), request_id, waiter); !queued.ok()) {
        correlator_.Fail(request_id, waiter, queued);
      }
    };
    if (wait_for_connect) {
      // No --max-connect-waiters here, so the wait is never refused.
      registry_.AwaitConnect(std::string(kDevice), clock_.Now() + absl::Seconds(10), std::move(send)).IgnoreError();
    } else {
      send(registry_.Find(std::string(kDevice)));
    }
  }

  void Advance(absl::Duration by) {
    clock_.Advance(by);
    for (bool fired = true; fired;) {
      fired = false;
      for (size_t i = 0; i < timers_.size(); ++i) {
        if (timers_[i].due > clock_.Now()) continue;
        auto task = std::move(timers_[i].task);
        timers_.erase(timers_.begin() + static_cast<std::ptrdiff_t>(i));
        task();
        Settle();
        fired = true;
        break;
      }
    }
    // Every timer due has fired: no session outlives its token.
    for (Connection& connection : connections_) {
      if (!connection.valid_until.has_value() || connection.on_closed_called) continue;
      HIVE_FUZZ_CHECK(connection.log->closed || *connection.valid_until > clock_.Now(),
                      "a session is still open after its token expired");
    }
  }

  // Runs posted work, collects new timers and checks what happened.
  void Settle() {
    for (bool busy = true; busy;) {
      busy = false;
      for (Connection& connection : connections_) {
        if (!connection.log->posted.empty()) {
          connection.log->RunPosted();
          busy = true;
        }
      }
    }
    for (Connection& connection : connections_) {
      for (auto& [delay, task] : connection.log->timers) timers_.push_back({clock_.Now() + delay, std::move(task)});
      connection.log->timers.clear();
      CheckFrames(connection);
    }
    CheckEvents();
  }

  void CheckFrames(Connection& connection) {
    const testing::TransportLog& log = *connection.log;
    if (connection.closed_seen) {
      HIVE_FUZZ_CHECK(log.sent.size() == connection.sent_at_close,
                      "a frame was sent after the close: ", log.sent.back());
    } else if (log.closed) {
      connection.closed_seen = true;
      connection.sent_at_close = log.sent.size();
      if (log.close_reason == "token expired") {
        HIVE_FUZZ_CHECK(log.close_code == close_code::kUnauthorized, "token expiry closed with ", log.close_code);
        HIVE_FUZZ_CHECK(!connection.valid_until.has_value() || *connection.valid_until <= clock_.Now(),
                        "a session closed as expired before its token expired");
      }
    }
    for (; connection.checked_frames < log.sent.size(); ++connection.checked_frames) {
      const std::string& frame = log.sent[connection.checked_frames];
      HIVE_FUZZ_CHECK(IsValidUtf8(frame), "a frame sent to the device is not UTF-8: ", frame);
      rapidjson::Document doc;
      absl::Status parsed = codec::ParseJson(frame, DeepLimits(), doc);
      HIVE_FUZZ_CHECK(parsed.ok() && doc.IsObject(),
                      "a frame sent to the device is not a JSON object: ", parsed.ToString(), "\nframe: ", frame);
    }
  }

  void CheckEvents() {
    while (std::shared_ptr<const DeviceEvent> event = subscription_->Next()) {
      if (event->type() == "gap") continue;  // the hub's own, for a slow subscriber
      HIVE_FUZZ_CHECK(event->device_id() == kDevice && event->account_id() == kAccount,
                      "an event without the authenticated identity:\n", event->DebugString());
      const bool from_bridge = event->type() == "device-connected" || event->type() == "device-alive" ||
                               event->type() == "device-disconnected";
      HIVE_FUZZ_CHECK(event->service() == (from_bridge ? codec::kBackendService : codec::kDeviceService),
                      "an event with the wrong service:\n", event->DebugString());
      HIVE_FUZZ_CHECK(from_bridge || !codec::IsBridgeEventType(event->type()),
                      "a device published a type reserved for the bridge:\n", event->DebugString());
    }
  }

  const codec::Dialect dialect_;
  testing::FakeClock clock_{absl::FromUnixSeconds(kClockStart)};
  std::unique_ptr<JwtAuthenticator> authenticator_;
  EventHub hub_;
  InprocBus bus_;
  SessionRegistry registry_;
  RequestCorrelator correlator_;
  SessionServices services_;
  SessionLimits limits_;
  std::unique_ptr<Subscription> subscription_;
  std::vector<Connection> connections_;
  std::vector<Timer> timers_;
  size_t requests_ = 0;
  size_t waiters_ = 0;
  std::shared_ptr<size_t> completed_ = std::make_shared<size_t>(0);
};

}  // namespace
}  // namespace hive::fuzz

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  hive::SetLogLevel(hive::LogLevel::kError);
  using namespace hive::fuzz;  // NOLINT: the entry point is outside the namespace
  for (Action action : {kBearerMessage, kBearerOtherDevice, kBearerShortLived, kBearerLongLived, kBearerExpired}) {
    TokenOf(action);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hive::fuzz;  // NOLINT: the entry point is outside the namespace
  FuzzInput in(data, size);
  Harness harness(in.flags());
  for (absl::string_view step : absl::StrSplit(in.text(), kSeparator)) harness.Step(step);
  return 0;
}

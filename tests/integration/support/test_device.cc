#include "tests/integration/support/test_device.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bridge/codec/compact_keys.h"
#include "bridge/codec/device_response.h"
#include "bridge/codec/json_document.h"
#include "tests/integration/support/json_assertions.h"

namespace hive::integration {
namespace {

constexpr absl::Duration kPoliteCloseWait = absl::Seconds(2);

}  // namespace

std::string TypeOfFrame(absl::string_view frame, absl::string_view type_key) { return StringField(frame, type_key); }

TestDevice::TestDevice(DeviceOptions options) : options_(std::move(options)) {
  client_.clear_access_channels(websocketpp::log::alevel::all);
  client_.clear_error_channels(websocketpp::log::elevel::all);
  client_.init_asio();
  client_.start_perpetual();
  client_.set_open_handler([this](websocketpp::connection_hdl hdl) {
    asio::error_code ec;
    const int port = client_.get_con_from_hdl(hdl)->get_raw_socket().local_endpoint(ec).port();
    absl::MutexLock lock(&mu_);
    state_ = State::kOpen;
    opened_ = true;
    local_port_ = port;
  });
  client_.set_fail_handler([this](websocketpp::connection_hdl hdl) {
    Client::connection_ptr con = client_.get_con_from_hdl(hdl);
    std::string why = con->get_ec().message();
    if (con->get_response_code() != websocketpp::http::status_code::uninitialized) {
      absl::StrAppend(&why, " (HTTP ", con->get_response_code(), ")");
    }
    SetClosed(websocketpp::close::status::abnormal_close, std::move(why));
  });
  client_.set_close_handler([this](websocketpp::connection_hdl hdl) {
    Client::connection_ptr con = client_.get_con_from_hdl(hdl);
    SetClosed(con->get_remote_close_code(), con->get_remote_close_reason());
  });
  client_.set_ping_handler([this](websocketpp::connection_hdl, std::string) { return options_.answer_pings; });
  client_.set_message_handler(
      [this](websocketpp::connection_hdl, Client::message_ptr message) { OnMessage(std::move(message)); });
  io_thread_ = std::thread([this] { client_.run(); });
}

TestDevice::~TestDevice() {
  if (open()) {
    Close(websocketpp::close::status::normal, "test over");
    WaitClosed(kPoliteCloseWait);
  }
  client_.stop_perpetual();
  client_.stop();
  io_thread_.join();
}

absl::Status TestDevice::Connect(absl::Duration timeout) {
  websocketpp::lib::error_code ec;
  Client::connection_ptr con = client_.get_connection(options_.url, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad URL ", options_.url, ": ", ec.message()));
  if (options_.auth == AuthMode::kHeader) con->append_header("Authorization", "Bearer " + options_.token);
  con->add_subprotocol(std::string(codec::SubprotocolOf(options_.dialect)), ec);
  {
    absl::MutexLock lock(&mu_);
    state_ = State::kConnecting;
    hdl_ = con->get_handle();
  }
  client_.connect(con);
  {
    absl::MutexLock lock(&mu_);
    auto settled = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return state_ != State::kConnecting; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&settled), timeout)) {
      return absl::DeadlineExceededError(absl::StrCat("device ", options_.device_id, " did not connect"));
    }
    if (!opened_) {
      return absl::UnavailableError(
          absl::StrCat("device ", options_.device_id, " could not connect: ", close_code_, " ", close_reason_));
    }
  }
  if (options_.auth == AuthMode::kFirstMessage) Send("Bearer " + options_.token);
  return absl::OkStatus();
}

absl::StatusOr<std::string> TestDevice::ConnectAndAuthenticate(absl::Duration timeout) {
  if (absl::Status connected = Connect(timeout); !connected.ok()) return connected;
  std::optional<std::string> reply = NextOfType("authenticated", timeout);
  if (!reply.has_value()) {
    return absl::UnauthenticatedError(
        absl::StrCat("device ", options_.device_id, " got no authenticated reply; ", Transcript()));
  }
  return *std::move(reply);
}

void TestDevice::Send(absl::string_view text) {
  websocketpp::connection_hdl hdl;
  {
    absl::MutexLock lock(&mu_);
    hdl = hdl_;
  }
  websocketpp::lib::error_code ec;
  client_.send(hdl, std::string(text), websocketpp::frame::opcode::text, ec);
}

void TestDevice::SendBinary(absl::string_view bytes) {
  websocketpp::connection_hdl hdl;
  {
    absl::MutexLock lock(&mu_);
    hdl = hdl_;
  }
  websocketpp::lib::error_code ec;
  client_.send(hdl, std::string(bytes), websocketpp::frame::opcode::binary, ec);
}

std::optional<std::string> TestDevice::NextText(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !inbox_.empty(); };
  if (!mu_.AwaitWithTimeout(absl::Condition(&ready), timeout)) return std::nullopt;
  std::string text = std::move(inbox_.front());
  inbox_.pop_front();
  return text;
}

std::optional<std::string> TestDevice::NextOfType(absl::string_view type, absl::Duration timeout) {
  const absl::string_view type_key = WireKey("type");
  absl::MutexLock lock(&mu_);
  std::deque<std::string>::iterator found;
  auto ready = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    found = std::find_if(inbox_.begin(), inbox_.end(),
                         [&](const std::string& frame) { return TypeOfFrame(frame, type_key) == type; });
    return found != inbox_.end();
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&ready), timeout)) return std::nullopt;
  std::string text = std::move(*found);
  inbox_.erase(found);
  return text;
}

void TestDevice::Ack(absl::string_view request_id) { SendResponse(request_id, Responder::Result::kNone, {}); }

void TestDevice::Succeed(absl::string_view request_id, absl::string_view result_json) {
  Responder responder;
  responder.result_json = std::string(result_json);
  SendResponse(request_id, Responder::Result::kOk, responder);
}

void TestDevice::Fail(absl::string_view request_id, absl::string_view error) {
  Responder responder;
  responder.error = std::string(error);
  SendResponse(request_id, Responder::Result::kError, responder);
}

void TestDevice::Close(int code, absl::string_view reason) {
  websocketpp::connection_hdl hdl;
  {
    absl::MutexLock lock(&mu_);
    hdl = hdl_;
  }
  websocketpp::lib::error_code ec;
  client_.close(hdl, static_cast<websocketpp::close::status::value>(code), std::string(reason), ec);
}

void TestDevice::Abort() {
  websocketpp::connection_hdl hdl;
  {
    absl::MutexLock lock(&mu_);
    hdl = hdl_;
  }
  asio::post(client_.get_io_service(), [this, hdl] {
    websocketpp::lib::error_code ec;
    Client::connection_ptr con = client_.get_con_from_hdl(hdl, ec);
    if (ec) return;
    asio::error_code ignored;
    con->get_raw_socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    con->get_raw_socket().close(ignored);
  });
}

bool TestDevice::WaitClosed(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto closed = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return state_ == State::kClosed; };
  return mu_.AwaitWithTimeout(absl::Condition(&closed), timeout);
}

int TestDevice::close_code() const {
  absl::MutexLock lock(&mu_);
  return close_code_;
}

std::string TestDevice::close_reason() const {
  absl::MutexLock lock(&mu_);
  return close_reason_;
}

bool TestDevice::open() const {
  absl::MutexLock lock(&mu_);
  return state_ == State::kOpen;
}

int TestDevice::local_port() const {
  absl::MutexLock lock(&mu_);
  return local_port_;
}

int TestDevice::received_requests() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(request_ids_.size());
}

std::vector<std::string> TestDevice::received_request_ids() const {
  absl::MutexLock lock(&mu_);
  return request_ids_;
}

std::string TestDevice::Transcript() const {
  absl::MutexLock lock(&mu_);
  std::string out = absl::StrCat("device ", options_.device_id, " received ", transcript_.size(), " frames:\n  ",
                                 absl::StrJoin(transcript_, "\n  "));
  if (state_ == State::kClosed) absl::StrAppend(&out, "\n  closed: ", close_code_, " \"", close_reason_, "\"");
  return out;
}

void TestDevice::OnMessage(Client::message_ptr message) {
  if (message->get_opcode() != websocketpp::frame::opcode::text) return;
  std::string text = message->get_payload();
  std::string request_id;
  if (TypeOfFrame(text, WireKey("type")) == "device-request") request_id = StringField(text, WireKey("request"));
  {
    absl::MutexLock lock(&mu_);
    transcript_.push_back(text);
    inbox_.push_back(std::move(text));
    if (!request_id.empty()) request_ids_.push_back(request_id);
  }
  if (!request_id.empty()) OnDeviceRequest(request_id);
}

// Runs on the I/O thread.
void TestDevice::OnDeviceRequest(const std::string& request_id) {
  if (!options_.responder.has_value()) return;
  const Responder& responder = *options_.responder;
  auto respond = [this, request_id, responder] {
    SendResponse(request_id, Responder::Result::kNone, responder);
    if (responder.result != Responder::Result::kNone) SendResponse(request_id, responder.result, responder);
  };
  if (responder.ack_delay <= absl::ZeroDuration()) return respond();
  auto timer =
      std::make_shared<asio::steady_timer>(client_.get_io_service(), absl::ToChronoNanoseconds(responder.ack_delay));
  timer->async_wait([timer, respond](const asio::error_code& ec) {
    if (!ec) respond();
  });
}

void TestDevice::SendResponse(absl::string_view request_id, Responder::Result result, const Responder& responder) {
  if (result == Responder::Result::kNone && responder.hivekit_ack) {
    Send(absl::StrCat(R"({"cid":")", request_id, R"(","res":"suc"})"));
    return;
  }
  codec::DeviceResponse response;
  response.request_id = std::string(request_id);
  switch (result) {
    case Responder::Result::kNone:
      response.status = codec::DeviceResponse::Status::kAck;
      break;
    case Responder::Result::kOk: {
      response.status = codec::DeviceResponse::Status::kSucceeded;
      rapidjson::Document doc;
      codec::JsonPath path;
      if (codec::ParseJson(responder.result_json, {}, doc).ok() &&
          codec::ReadStruct(doc, response.result, path, {&response.result_exact_numbers, 0}).ok()) {
        response.has_result = true;
      }
      break;
    }
    case Responder::Result::kError:
      response.status = codec::DeviceResponse::Status::kFailed;
      response.error = responder.error;
      break;
  }
  Send(codec::EncodeDeviceResponse(response, options_.dialect));
}

void TestDevice::SetClosed(int code, std::string reason) {
  absl::MutexLock lock(&mu_);
  state_ = State::kClosed;
  close_code_ = code;
  close_reason_ = std::move(reason);
}

absl::string_view TestDevice::WireKey(absl::string_view standard_key) const {
  return codec::WireKey(standard_key, options_.dialect);
}

}  // namespace hive::integration

#include "tests/integration/support/test_device.h"

#include <algorithm>
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
constexpr int kNormalClose = 1000;
// RFC 6455: the code reported for a connection that ended without a close frame.
constexpr int kAbnormalClose = 1006;

}  // namespace

std::string TypeOfFrame(absl::string_view frame, absl::string_view type_key) { return StringField(frame, type_key); }

TestDevice::TestDevice(DeviceOptions options) : options_(std::move(options)) {
  link_ = WebSocketLink::Make({.url = options_.url, .ca_file = options_.ca_file, .answer_pings = options_.answer_pings},
                              {.opened = [this](int local_port) { OnOpened(local_port); },
                               .closed = [this](int code, std::string reason) { SetClosed(code, std::move(reason)); },
                               .text = [this](std::string text) { OnMessage(std::move(text)); }});
}

TestDevice::~TestDevice() {
  if (open()) {
    Close(kNormalClose, "test over");
    WaitClosed(kPoliteCloseWait);
  }
  link_.reset();
}

absl::Status TestDevice::Connect(absl::Duration timeout) {
  WebSocketLink::Headers headers;
  if (options_.auth == AuthMode::kHeader) headers.emplace_back("Authorization", "Bearer " + options_.token);
  {
    absl::MutexLock lock(&mu_);
    state_ = State::kConnecting;
  }
  if (absl::Status opening = link_->Open(headers, std::string(codec::SubprotocolOf(options_.dialect))); !opening.ok()) {
    SetClosed(kAbnormalClose, std::string(opening.message()));
    return opening;
  }
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

void TestDevice::Send(absl::string_view text) { link_->Send(text, /*binary=*/false); }

void TestDevice::SendBinary(absl::string_view bytes) { link_->Send(bytes, /*binary=*/true); }

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

void TestDevice::Close(int code, absl::string_view reason) { link_->Close(code, reason); }

void TestDevice::Abort() { link_->Abort(); }

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

void TestDevice::OnOpened(int local_port) {
  absl::MutexLock lock(&mu_);
  state_ = State::kOpen;
  opened_ = true;
  local_port_ = local_port;
}

void TestDevice::OnMessage(std::string text) {
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
  link_->RunAfter(responder.ack_delay, respond);
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

int TimesReceived(const TestDevice& device, const std::string& id) {
  std::vector<std::string> ids = device.received_request_ids();
  return static_cast<int>(std::count(ids.begin(), ids.end(), id));
}

}  // namespace hive::integration

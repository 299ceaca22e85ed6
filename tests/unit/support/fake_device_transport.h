// tests/unit/support/fake_device_transport.h
// A DeviceTransport that records what the session does and runs posted and
// delayed tasks only when the test says so, so a session is driven without
// sockets, threads or sleeps.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "bridge/device_transport.h"

namespace hive::testing {

// What the transport saw; outlives the transport (the session owns that).
struct TransportLog {
  std::vector<std::string> sent;
  int pings = 0;
  bool closed = false;
  int close_code = 0;
  std::string close_reason;
  // Plays a connection that is closing already (the peer's close came
  // first): Close sends nothing and says so.
  bool refuse_close = false;
  std::vector<absl::AnyInvocable<void()>> posted;
  std::vector<std::pair<absl::Duration, absl::AnyInvocable<void()>>> timers;
  // What buffered_bytes() answers: set it to play a device that stops reading.
  size_t buffered_bytes = 0;

  // Runs posted tasks (which may post more) until none is left.
  void RunPosted() {
    while (!posted.empty()) {
      auto tasks = std::move(posted);
      posted.clear();
      for (auto& task : tasks) task();
    }
  }
  // Runs every timer scheduled so far (not those they schedule).
  void FireTimers() {
    auto due = std::move(timers);
    timers.clear();
    for (auto& [delay, task] : due) task();
  }
};

class FakeDeviceTransport final : public DeviceTransport {
 public:
  explicit FakeDeviceTransport(TransportLog& log) : log_(log) {}
  void SendText(std::string frame) override { log_.sent.push_back(std::move(frame)); }
  void Ping() override { ++log_.pings; }
  bool Close(int code, absl::string_view reason) override {
    if (log_.refuse_close) return false;
    log_.closed = true;
    log_.close_code = code;
    log_.close_reason = std::string(reason);
    return true;
  }
  void RunAfter(absl::Duration delay, absl::AnyInvocable<void()> task) override {
    log_.timers.emplace_back(delay, std::move(task));
  }
  void Post(absl::AnyInvocable<void()> task) override { log_.posted.push_back(std::move(task)); }
  std::string remote_address() const override { return "192.0.2.7:5555"; }
  size_t buffered_bytes() const override { return log_.buffered_bytes; }

 private:
  TransportLog& log_;
};

}  // namespace hive::testing

// server/expiry_ticker.h
// A thread that runs `tick` every `period` until destroyed: it drives the
// deadlines of pending requests and of callers waiting for a device.
#pragma once

#include <thread>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace hive::server {

class ExpiryTicker {
 public:
  ExpiryTicker(absl::Duration period, absl::AnyInvocable<void()> tick)
      : thread_([this, period, tick = std::move(tick)]() mutable {
          while (!stop_.WaitForNotificationWithTimeout(period)) tick();
        }) {}
  ~ExpiryTicker() {
    stop_.Notify();
    thread_.join();
  }
  ExpiryTicker(const ExpiryTicker&) = delete;
  ExpiryTicker& operator=(const ExpiryTicker&) = delete;

 private:
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace hive::server

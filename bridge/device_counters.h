// bridge/device_counters.h
// What /metrics counts of device connections as they happen: authenticated
// connections by protocol, closes by close code and by who closed first,
// authentication failures by reason, text frames and their bytes in each
// direction, and events by type. Plain
// atomics on fixed label sets, so a device cannot grow the set of series: a
// close code or an event type outside them counts as "other". Every device
// session of the process counts into one object (SessionServices).
//
//   counters.Closed(4401, ClosedBy::kBridge);
//   counters.AuthFailed(AuthFailure::kSignature);
//   counters.Received(frame.size());
//   counters.Event("device-state");
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "bridge/auth/auth_failure.h"
#include "bridge/close_codes.h"
#include "bridge/codec/dialect.h"

namespace hive {

class DeviceCounters {
 public:
  // Every close code a connection can end with (close_codes.h), in the order
  // /metrics lists them; any other code counts as "other" (index kCloseCodes.size()).
  static constexpr std::array<int, 17> kCloseCodes = {
      close_code::kNormal,          close_code::kGoingAway,     close_code::kUnsupportedData,
      close_code::kNoStatus,        close_code::kAbnormal,      close_code::kInvalidPayload,
      close_code::kPolicyViolation, close_code::kMessageTooBig, 1011,  // the device's internal error
      close_code::kTryAgainLater,   close_code::kUnauthorized,  close_code::kAccountFull,
      close_code::kPongTimeout,     close_code::kReplaced,      close_code::kIdle,
      close_code::kNotReading,      close_code::kRateLimited};
  static constexpr size_t kClosers = 3;  // ClosedBy's values
  // The event types counted by name; the rest count as "other".
  static constexpr std::array<absl::string_view, 8> kEventTypes = {
      "device-state", "device-version",   "instances",           "instance-state",
      "device-alive", "device-connected", "device-disconnected", "other"};

  // An authenticated connection of `dialect` opened, or closed.
  void Connected(codec::Dialect dialect) { connected_[DialectIndex(dialect)].fetch_add(1, std::memory_order_relaxed); }
  void Disconnected(codec::Dialect dialect) {
    connected_[DialectIndex(dialect)].fetch_sub(1, std::memory_order_relaxed);
  }
  void Closed(int code, ClosedBy by) {
    closes_[CloseIndex(code)][static_cast<size_t>(by)].fetch_add(1, std::memory_order_relaxed);
  }
  void AuthFailed(AuthFailure reason) {
    auth_failures_[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  }
  // A text frame from a device, or one the bridge sent to a device.
  void Received(size_t bytes) { Count(frames_in_, bytes_in_, bytes); }
  void Sent(size_t bytes) { Count(frames_out_, bytes_out_, bytes); }
  // A device event published (after it passed every check).
  void Event(absl::string_view type) { events_[EventIndex(type)].fetch_add(1, std::memory_order_relaxed); }

  // Reads for /metrics. `code_index` is an index of kCloseCodes, or its size for "other".
  int64_t connected(codec::Dialect dialect) const {
    return connected_[DialectIndex(dialect)].load(std::memory_order_relaxed);
  }
  uint64_t closes(size_t code_index, ClosedBy by) const {
    return closes_[code_index][static_cast<size_t>(by)].load(std::memory_order_relaxed);
  }
  uint64_t auth_failures(AuthFailure reason) const {
    return auth_failures_[static_cast<size_t>(reason)].load(std::memory_order_relaxed);
  }
  uint64_t frames_in() const { return frames_in_.load(std::memory_order_relaxed); }
  uint64_t bytes_in() const { return bytes_in_.load(std::memory_order_relaxed); }
  uint64_t frames_out() const { return frames_out_.load(std::memory_order_relaxed); }
  uint64_t bytes_out() const { return bytes_out_.load(std::memory_order_relaxed); }
  uint64_t events(size_t type_index) const { return events_[type_index].load(std::memory_order_relaxed); }

 private:
  static size_t DialectIndex(codec::Dialect dialect) { return dialect == codec::Dialect::kCompact ? 1 : 0; }
  static size_t CloseIndex(int code) {
    for (size_t i = 0; i < kCloseCodes.size(); ++i) {
      if (kCloseCodes[i] == code) return i;
    }
    return kCloseCodes.size();
  }
  static size_t EventIndex(absl::string_view type) {
    for (size_t i = 0; i + 1 < kEventTypes.size(); ++i) {
      if (kEventTypes[i] == type) return i;
    }
    return kEventTypes.size() - 1;
  }
  static void Count(std::atomic<uint64_t>& frames, std::atomic<uint64_t>& bytes, size_t size) {
    frames.fetch_add(1, std::memory_order_relaxed);
    bytes.fetch_add(size, std::memory_order_relaxed);
  }

  std::array<std::atomic<int64_t>, 2> connected_{};
  std::array<std::array<std::atomic<uint64_t>, kClosers>, kCloseCodes.size() + 1> closes_{};
  std::array<std::atomic<uint64_t>, kAuthFailureNames.size()> auth_failures_{};
  std::atomic<uint64_t> frames_in_{0};
  std::atomic<uint64_t> bytes_in_{0};
  std::atomic<uint64_t> frames_out_{0};
  std::atomic<uint64_t> bytes_out_{0};
  std::array<std::atomic<uint64_t>, kEventTypes.size()> events_{};
};

}  // namespace hive

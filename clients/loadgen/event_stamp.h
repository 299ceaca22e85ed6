// clients/loadgen/event_stamp.h
// How the fan-out load finds an event again: each one carries a stamp in
// the unknown member "bench", which the bridge keeps (it lands in
// DeviceEvent.extra) and an echo server returns unchanged. The stamp names
// the emitter's in-flight slot, the slot's sequence number and the send time
// on the loadgen's steady clock (emitters and receivers share the process,
// so no clocks need agreeing). It has a fixed width, so every frame of a run
// is the same size.
//
//   StampedEventFrame frame(device_id, account_id);
//   send(frame.With({slot, seq, SteadyNanos()}));
//   std::optional<EventStamp> stamp = ParseStamp(event.extra().fields().at(kStampKey).string_value());
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace hive::loadgen {

inline constexpr absl::string_view kStampKey = "bench";
// The bridge types the event (device-state) as devices report disk space.
inline constexpr absl::string_view kStampedEventType = "device-state";

struct EventStamp {
  uint32_t slot = 0;
  uint64_t seq = 0;
  int64_t sent_nanos = 0;  // SteadyNanos() at send
};

// Nanoseconds on std::chrono::steady_clock.
int64_t SteadyNanos();

std::string FormatStamp(const EventStamp& stamp);
std::optional<EventStamp> ParseStamp(absl::string_view text);

// The stamp of an echoed frame (the JSON text the emitter sent).
std::optional<EventStamp> StampOfFrame(absl::string_view frame);

// A device-state event of one device, encoded once by the codec; With()
// only splices the stamp in.
class StampedEventFrame {
 public:
  StampedEventFrame(const std::string& device_id, const std::string& account_id);
  std::string With(const EventStamp& stamp) const;

 private:
  std::string before_;  // the encoded event up to the stamp's text
  std::string after_;
};

}  // namespace hive::loadgen

// bridge/codec/schema_error_counts.h
// How many device events arrived with fields that did not fit their known
// type's typed body, and so were relayed with the generic body and a
// `schema_error` (see device_event.h), per type, for /metrics:
// hivebridge_device_event_schema_errors_total{type="device-state"}.
//
//   SchemaErrorCounts::OfProcess().Count("device-state");   // any thread
//   uint64_t n = SchemaErrorCounts::OfProcess().value("device-state");
//
// One set per process, counted where device frames are decoded
// (DecodeDeviceFrame), so events read back from the cluster bus are not
// counted twice. The label set is fixed (the four known device types and
// "other" for every other type), so a device cannot grow it. Thread-safe:
// relaxed atomics, read at scrape time.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace hive::codec {

class SchemaErrorCounts {
 public:
  // Every label value, in the order /metrics lists them.
  static constexpr std::array<absl::string_view, 5> kLabels = {"instances", "instance-state", "device-version",
                                                               "device-state", "other"};

  // The process's counts (never destroyed, so safe from any thread at exit).
  static SchemaErrorCounts& OfProcess();

  // Counts one event of `type` (any type not in kLabels counts as "other").
  void Count(absl::string_view type);

  // The count of `label`, one of kLabels (a type not in it reads "other").
  uint64_t value(absl::string_view label) const;

 private:
  static size_t IndexOf(absl::string_view type);

  std::array<std::atomic<uint64_t>, kLabels.size()> counts_{};
};

}  // namespace hive::codec

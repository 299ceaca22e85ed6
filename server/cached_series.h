// server/cached_series.h
// A prometheus-cpp series found once and then read through a pointer: the
// label map is built and looked up in the family only the first time, so a
// hot path that counts (a gRPC call, a device request) pays an atomic load.
//
//   std::atomic<prometheus::Counter*> slot{nullptr};
//   CachedSeries(slot, family, [] { return prometheus::Labels{{"code", "OK"}}; }).Increment();
#pragma once

#include <atomic>

#include "prometheus/family.h"

namespace hive::server {

// The series in `slot`, added to `family` with the labels `make_labels`
// returns (and `args`, e.g. a histogram's buckets) when the slot is empty.
// Thread-safe: Family::Add returns the existing series for the same labels,
// so threads racing to fill the slot store the same pointer.
template <typename Metric, typename MakeLabels, typename... Args>
Metric& CachedSeries(std::atomic<Metric*>& slot, prometheus::Family<Metric>& family, MakeLabels make_labels,
                     const Args&... args) {
  Metric* series = slot.load(std::memory_order_acquire);
  if (series == nullptr) {
    series = &family.Add(make_labels(), args...);
    slot.store(series, std::memory_order_release);
  }
  return *series;
}

}  // namespace hive::server

// bridge/bus/inproc_bus.h
// The default, single-process bus: device events go straight into this
// process's event hub. Needs nothing else running.
#pragma once

#include <atomic>
#include <cstdint>

#include "bridge/bus/bus.h"
#include "bridge/event_hub.h"

namespace hive {

class InprocBus final : public Bus {
 public:
  explicit InprocBus(EventHub& hub) : hub_(hub) {}

  void Publish(hive::bridge::v1::DeviceEvent event) override {
    published_.fetch_add(1, std::memory_order_relaxed);
    hub_.Publish(std::move(event));
  }

  bool connected() const override { return true; }

  BusCounters counters() const override {
    const uint64_t published = published_.load(std::memory_order_relaxed);
    return {published, 0, published};
  }

  void Stop() override {}

 private:
  EventHub& hub_;
  std::atomic<uint64_t> published_{0};
};

}  // namespace hive

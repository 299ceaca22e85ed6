// clients/loadgen/event_emitter.h
// The fan-out load's devices: WebSocket connections (spread over the URLs)
// that send stamped device-state events, each keeping `window` of them in
// flight through its slots in the DeliveryLedger. Against a bridge each
// connection authenticates as a device of the roster first; against the
// echo server (echo = true) events come back on the connection that sent
// them, and the emitter itself is their receiver. All connections run on one
// I/O thread, which alone touches the slots and sockets.
//
//   auto emitter = EventEmitter::Start(options, &roster, ledger);   // connected and authenticated
//   (*emitter)->Fire();                                              // every slot sends
//   ... receivers: if (ledger.Deliver(stamp, now)) (*emitter)->Refill(stamp);
//   (*emitter)->Stop();
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/device_sim/device_roster.h"
#include "clients/loadgen/delivery_ledger.h"
#include "clients/loadgen/event_stamp.h"

namespace hive::loadgen {

class EventEmitter {
 public:
  struct Options {
    std::vector<std::string> urls;             // ws:// only
    std::vector<sim::RosterEntry> identities;  // one per emitter: the ids its events carry
    int window = 1;
    absl::Duration event_timeout = absl::Seconds(1);
    absl::Duration ready_timeout = absl::Seconds(10);
    bool echo = false;
  };

  virtual ~EventEmitter() = default;

  // Connects every emitter and waits until each is ready (authenticated, or
  // just open against the echo server). `roster` mints the emitters' tokens
  // (entry i for emitter i) and is needed against a bridge only; it and
  // `ledger` must outlive the emitter.
  static absl::StatusOr<std::unique_ptr<EventEmitter>> Start(const Options& options, const sim::DeviceRoster* roster,
                                                             DeliveryLedger& ledger);

  // Every slot sends its first event; from then on slots refill themselves.
  virtual void Fire() = 0;
  // Any thread: the stamped event is done, its slot may send the next.
  virtual void Refill(const EventStamp& stamp) = 0;
  // Closes the connections and joins the I/O thread.
  virtual void Stop() = 0;

  // Frames the bridge answered with an error, and sends that failed.
  virtual int64_t errors() const = 0;
  virtual size_t frame_bytes() const = 0;
};

}  // namespace hive::loadgen

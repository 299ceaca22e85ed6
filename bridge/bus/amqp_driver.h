// bridge/bus/amqp_driver.h
// The thin driver under the cluster bus: one thread that owns one connection
// to the broker at a time and keeps one up. It connects (and again, with
// jittered backoff, 100 ms to 5 s, when the connection is lost or dies),
// opens each part's channels and lets the parts set up (amqp_part.h); then
// turns a loop: while the broker is healthy each part sends what it has
// queued, and the broker's frames are read and dispatched to the part that
// owns their channel. It owns what is the connection's and no part's: its
// health (broker_health.h: connection.blocked, heartbeats heard, a write
// stuck) and the watchdog that cuts a write that hangs (write_watchdog.h).
// While the broker is blocked or silent it writes nothing and only reads.
//
// The bus runs two (amqp_bus.h): one for the data path (events, routed
// requests, the logs) and one for presence and heartbeats alone, so that a
// data path stuck writing cannot keep a replica from beating or hearing its
// peers.
//
//   AmqpDriver driver({address, "data", replica_id, absl::Seconds(5)}, clock);
//   driver.Add(&events);   // before Start
//   driver.Start();
//   ... driver.wakeup() is what the parts' queues wake it with.
//   driver.Stop();         // the parts' farewells, then it closes
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "bridge/bus/amqp_connection.h"
#include "bridge/bus/amqp_part.h"
#include "bridge/bus/broker_health.h"
#include "bridge/bus/wakeup.h"
#include "bridge/bus/write_watchdog.h"
#include "bridge/clock.h"

namespace hive {

// The longest wait between reconnect attempts: others in the fleet may take
// as long (and half again, for the jitter) to come back after the broker
// did.
inline constexpr absl::Duration kMaxReconnectBackoff = absl::Seconds(5);

struct AmqpDriverOptions {
  AmqpAddress address;
  // "data" or "presence": in its logs (connection=...) and in the name the
  // broker shows for the connection ("hivebridge <replica> <role>").
  std::string role;
  std::string replica_id;
  // Connecting, and each broker round trip; a write lasting this long is cut.
  absl::Duration io_timeout = absl::Seconds(5);
};

class AmqpDriver {
 public:
  AmqpDriver(AmqpDriverOptions options, Clock& clock);
  ~AmqpDriver();
  AmqpDriver(const AmqpDriver&) = delete;
  AmqpDriver& operator=(const AmqpDriver&) = delete;

  // Before Start. Parts are set up, flushed and told in the order added.
  void Add(AmqpPart* part);
  // Wakes the driver's thread; the parts' work queues share it.
  const std::shared_ptr<Wakeup>& wakeup() const { return wakeup_; }

  // Starts the thread, which connects and keeps reconnecting.
  void Start();
  // Sends what is queued, the parts' farewells, waits (bounded) for the
  // broker's confirms, closes, and joins the thread.
  void Stop();

  // Readable from any thread.
  BrokerState state() const { return health_.state(); }
  const BrokerHealth& health() const { return health_; }
  // Writes stuck for io_timeout, cut by shutting the connection down.
  uint64_t writes_cut() const { return watchdog_.fired(); }

 private:
  class Session;

  void Run();

  const AmqpDriverOptions options_;
  Clock& clock_;
  const std::shared_ptr<Wakeup> wakeup_ = std::make_shared<Wakeup>();
  std::vector<AmqpPart*> parts_;
  // Cuts a write to the broker that lasts io_timeout; before health_, which
  // asks it whether a write is stuck.
  WriteWatchdog watchdog_;
  BrokerHealth health_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace hive

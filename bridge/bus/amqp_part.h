// bridge/bus/amqp_part.h
// One job of the cluster bus (the event channel, the request router, the
// presence tracker, the log streams) as the driver that owns its connection
// sees it (amqp_driver.h). The driver opens the part's channels on every new
// connection and lets the part set up its topology; hands it the deliveries,
// returns and publisher confirms that arrive on its channels; and, each turn
// of its loop while the broker is healthy, lets it send what it has queued.
// A part keeps across connections whatever must survive one (events to
// publish again, stream offsets), and drops the rest when one is lost.
//
// Every method runs on the driver's thread; the part's own public methods
// that other threads call only queue work for it (work_queue.h).
#pragma once

#include <amqp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "bridge/bus/amqp_connection.h"
#include "bridge/bus/bus.h"

namespace hive {

// A message the broker delivered to one of the part's consumers.
struct AmqpDelivery {
  amqp_channel_t channel = 0;
  std::string consumer;
  std::string exchange;
  std::string routing_key;
  uint64_t delivery_tag = 0;
  AmqpMessage message;
};

class AmqpPart {
 public:
  virtual ~AmqpPart() = default;

  // The channels it owns on its connection: the driver opens them and routes
  // what arrives on them here. No two parts of a driver share one.
  virtual std::vector<amqp_channel_t> channels() const = 0;

  // A new connection, its channels open: declare, bind, consume.
  virtual absl::Status SetUp(AmqpConnection& amqp) = 0;

  // A turn of the loop while the broker is healthy: send what is queued.
  // Sets `more` when it has more to send right away (the driver then does
  // not wait for the broker before the next turn). An error ends the
  // connection.
  virtual absl::Status Flush(AmqpConnection& amqp, absl::Time now, bool& more) = 0;

  // When it next needs a turn with nothing queued (a heartbeat is due).
  virtual absl::Time next_due() const { return absl::InfiniteFuture(); }

  // What arrived on its channels. An error ends the connection.
  // By value: the parts that take deliveries move from it.
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  virtual absl::Status OnDelivery(AmqpDelivery /*delivery*/) { return absl::OkStatus(); }
  // A `mandatory` message the broker could not route.
  virtual void OnReturn(const std::string& /*routing_key*/, const AmqpMessage& /*message*/) {}
  // A publisher confirm (basic.ack, or basic.nack when not `acked`).
  virtual void OnConfirm(uint64_t /*tag*/, bool /*multiple*/, bool /*acked*/) {}

  // After each batch of frames read: acknowledge what was read.
  virtual absl::Status AfterRead(AmqpConnection& /*amqp*/) { return absl::OkStatus(); }

  // This connection's broker turned healthy (connected, not blocked, heard)
  // or not (`state` says how).
  virtual void OnHealthChanged(bool /*healthy*/, BrokerState /*state*/) {}

  // The bus is stopping and nothing is left to send: last words.
  virtual absl::Status Farewell(AmqpConnection& /*amqp*/) { return absl::OkStatus(); }
  // Whether nothing it sent still awaits the broker's confirm (the driver
  // waits for that, bounded, before it closes at a stop).
  virtual bool settled() const { return true; }

  // The connection is gone: `stopped` when the bus stopped, otherwise lost.
  virtual void OnConnectionEnded(bool /*stopped*/) {}
};

}  // namespace hive

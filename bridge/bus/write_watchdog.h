// bridge/bus/write_watchdog.h
// A deadline for writes that cannot take one. rabbitmq-c writes frames
// (basic.publish, basic.ack, its own heartbeats) with no timeout: when the
// broker stops reading its socket (a publisher blocked by a resource alarm,
// a frozen broker) and the socket's buffers fill, the write waits forever,
// and with it the bus thread. The writer arms the watchdog around each write;
// its own thread shuts the socket down when one has lasted longer than the
// limit, which wakes the writer with an error, so the connection fails and
// is made again.
//
//   WriteWatchdog watchdog(clock, absl::Seconds(4));
//   { WriteWatchdog::Scope writing(&watchdog, fd); amqp_basic_publish(...); }
#pragma once

#include <cstdint>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/clock.h"

namespace hive {

class WriteWatchdog {
 public:
  // Checks every `check_every` (a fraction of `limit`, so a stuck write is
  // cut at most that late).
  WriteWatchdog(const Clock& clock, absl::Duration limit, absl::Duration check_every = absl::Milliseconds(100));
  ~WriteWatchdog();
  WriteWatchdog(const WriteWatchdog&) = delete;
  WriteWatchdog& operator=(const WriteWatchdog&) = delete;

  // A write to `fd` starts now / is over. One write at a time (one writer
  // thread). The fd must stay open until Disarm.
  void Arm(int fd);
  void Disarm();

  // Arms for its lifetime; a null watchdog does nothing.
  class Scope {
   public:
    Scope(WriteWatchdog* watchdog, int fd) : watchdog_(watchdog) {
      if (watchdog_ != nullptr) watchdog_->Arm(fd);
    }
    ~Scope() {
      if (watchdog_ != nullptr) watchdog_->Disarm();
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    WriteWatchdog* watchdog_;
  };

  // When the write in progress started; nullopt when none is.
  std::optional<absl::Time> writing_since() const;
  // Writes cut so far.
  uint64_t fired() const;
  absl::Duration limit() const { return limit_; }

 private:
  void Watch();

  const Clock& clock_;
  const absl::Duration limit_;
  const absl::Duration check_every_;
  mutable absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  std::optional<absl::Time> since_ ABSL_GUARDED_BY(mu_);
  uint64_t fired_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace hive

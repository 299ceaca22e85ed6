#include "bridge/bus/write_watchdog.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "tests/unit/support/fake_clock.h"

namespace hive {
namespace {

// A socket whose peer never reads, with its send buffer full: the next
// write waits (poll for POLLOUT, as rabbitmq-c does) until something
// gives.
class StuckSocket {
 public:
  StuckSocket() {
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0);
    fcntl(fds_[0], F_SETFL, O_NONBLOCK);
    const std::string chunk(4096, 'x');
    while (send(fds_[0], chunk.data(), chunk.size(), MSG_NOSIGNAL) > 0) {
    }
  }
  ~StuckSocket() {
    close(fds_[0]);
    close(fds_[1]);
  }
  int fd() const { return fds_[0]; }

  // Waits for room as rabbitmq-c does, with no deadline, then writes: the
  // write's outcome (-1 with errno when the socket was shut down).
  ssize_t WriteWhenWritable() const {
    pollfd pfd{fds_[0], POLLOUT, 0};
    poll(&pfd, 1, -1);
    return send(fds_[0], "y", 1, MSG_NOSIGNAL);
  }

 private:
  int fds_[2] = {-1, -1};
};

TEST(WriteWatchdog, ShutsDownASocketWhoseWriteOutlastsTheLimitWhichWakesTheWriter) {
  testing::FakeClock clock;
  WriteWatchdog watchdog(clock, absl::Seconds(4), absl::Milliseconds(5));
  StuckSocket socket;
  absl::Notification written;
  ssize_t outcome = 0;
  int error = 0;
  std::thread writer([&] {
    WriteWatchdog::Scope writing(&watchdog, socket.fd());
    outcome = socket.WriteWhenWritable();
    error = errno;
    written.Notify();
  });
  // The write is under way (armed), and stuck.
  while (!watchdog.writing_since().has_value()) std::this_thread::yield();
  // Not before the limit...
  clock.Advance(absl::Seconds(3));
  EXPECT_FALSE(written.WaitForNotificationWithTimeout(absl::Milliseconds(100)));
  EXPECT_EQ(watchdog.fired(), 0u);
  // ...but once past it.
  clock.Advance(absl::Seconds(2));
  const bool woken = written.WaitForNotificationWithTimeout(absl::Seconds(30));
  if (!woken) shutdown(socket.fd(), SHUT_RDWR);  // so that the writer ends either way
  writer.join();
  ASSERT_TRUE(woken);
  EXPECT_EQ(outcome, -1);
  EXPECT_EQ(error, EPIPE);
  EXPECT_EQ(watchdog.fired(), 1u);
  EXPECT_FALSE(watchdog.writing_since().has_value());
}

}  // namespace
}  // namespace hive

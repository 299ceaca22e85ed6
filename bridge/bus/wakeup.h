// bridge/bus/wakeup.h
// Wakes a bus thread that waits in poll() on its broker's socket: any thread
// calls Wake(); the thread polls fd() beside the socket and calls Clear()
// before taking the work it was woken for. An eventfd, so wakes do not pile
// up and never block.
//
//   auto wakeup = std::make_shared<Wakeup>();
//   pollfd fds[] = {{socket, POLLIN, 0}, {wakeup->fd(), POLLIN, 0}};
//   ... another thread: queue work, then wakeup->Wake();
//
// Shared (std::shared_ptr) by the queues that wake it: a request's answer may
// be queued after the bus is gone, and then wakes nobody.
#pragma once

namespace hive {

class Wakeup {
 public:
  Wakeup();
  ~Wakeup();
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;

  int fd() const { return fd_; }
  // Thread-safe, never blocks.
  void Wake();
  // The waiting thread: forget the wakes so far.
  void Clear();

 private:
  const int fd_;
};

}  // namespace hive

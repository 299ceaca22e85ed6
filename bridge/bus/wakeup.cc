#include "bridge/bus/wakeup.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace hive {

Wakeup::Wakeup() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

Wakeup::~Wakeup() { close(fd_); }

void Wakeup::Wake() {
  const uint64_t one = 1;
  (void)!write(fd_, &one, sizeof one);
}

void Wakeup::Clear() {
  uint64_t count = 0;
  (void)!read(fd_, &count, sizeof count);
}

}  // namespace hive

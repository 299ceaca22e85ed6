// bridge/bus/work_queue.h
// Work for a bus thread from any other thread: items are pushed in order and
// the thread takes them all at once, woken (wakeup.h) by the first item after
// it last took them. Each part of the bus keeps its own (events, routed
// traffic, log appends), so one kind of work never has to be picked out of
// another's.
//
//   WorkQueue<Command> queue(wakeup);
//   queue.Push(command);                           // any thread
//   for (Command& command : queue.TakeAll()) ...   // the bus thread
//
// Thread-safe. Once closed (the bus stopped), it refuses everything.
#pragma once

#include <deque>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "bridge/bus/wakeup.h"

namespace hive {

template <typename T>
class WorkQueue {
 public:
  explicit WorkQueue(std::shared_ptr<Wakeup> wakeup) : wakeup_(std::move(wakeup)) {}

  // False (and `item` dropped) once closed.
  bool Push(T item) {
    {
      absl::MutexLock lock(&mu_);
      if (closed_) return false;
      items_.push_back(std::move(item));
      // Only the first item wakes the thread: it takes them all.
      if (items_.size() > 1) return true;
    }
    wakeup_->Wake();
    return true;
  }

  std::deque<T> TakeAll() {
    absl::MutexLock lock(&mu_);
    return std::exchange(items_, {});
  }

  // Refuses everything from now on.
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }

 private:
  const std::shared_ptr<Wakeup> wakeup_;
  absl::Mutex mu_;
  std::deque<T> items_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace hive

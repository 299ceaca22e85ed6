// bridge/bus/recent_ids.h
// The message ids of the latest events read from the stream, to drop an
// event published twice (its confirm was lost with the connection, so the
// publisher sent it again). Bounded: the oldest id is forgotten for each new
// one past `capacity`.
//
//   RecentIds recent(1 << 16);
//   if (!recent.Insert(message.message_id)) return;  // a duplicate
//
// One thread (the bus thread).
#pragma once

#include <cstddef>
#include <deque>
#include <string>

#include "absl/container/flat_hash_set.h"

namespace hive {

class RecentIds {
 public:
  explicit RecentIds(size_t capacity) : capacity_(capacity) {}

  // False when `id` was seen already (among the last `capacity`).
  bool Insert(const std::string& id) {
    if (!seen_.insert(id).second) return false;
    order_.push_back(id);
    if (order_.size() > capacity_) {
      seen_.erase(order_.front());
      order_.pop_front();
    }
    return true;
  }

 private:
  const size_t capacity_;
  absl::flat_hash_set<std::string> seen_;
  std::deque<std::string> order_;
};

}  // namespace hive

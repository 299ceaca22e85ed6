// bridge/event_filter.h
// Which device events one SubscribeEvents caller wants: its account ids,
// device ids and event types. An empty list matches any value; a non-empty
// list matches when any of its entries equals the event's field; an event
// matches when every list matches.
//
//   EventFilter filter = EventFilter::FromRequest(request);
//   if (filter.Matches(event)) deliver(event);
//
// Immutable once built, so any number of threads may call Matches() at once.
// Gap events are the subscription's own and never pass through a filter.
#pragma once

#include <string>

#include "absl/container/flat_hash_set.h"
#include "hive/bridge/v1/device_bridge.pb.h"
#include "hive/bridge/v1/events.pb.h"

namespace hive {

using hive::bridge::v1::DeviceEvent;
using hive::bridge::v1::SubscribeEventsRequest;

class EventFilter {
 public:
  // Matches every event.
  EventFilter() = default;

  // The request's account_ids, device_ids and types; resume_after is not a
  // filter and is ignored here.
  static EventFilter FromRequest(const SubscribeEventsRequest& request);

  bool Matches(const DeviceEvent& event) const;

 private:
  // Sets rather than the request's lists, because Matches() runs once per
  // subscriber for every published event.
  absl::flat_hash_set<std::string> account_ids_;
  absl::flat_hash_set<std::string> device_ids_;
  absl::flat_hash_set<std::string> types_;
};

}  // namespace hive

#include "bridge/event_filter.h"

namespace hive {
namespace {

bool ListMatches(const absl::flat_hash_set<std::string>& allowed, const std::string& value) {
  return allowed.empty() || allowed.contains(value);
}

}  // namespace

EventFilter EventFilter::FromRequest(const SubscribeEventsRequest& request) {
  EventFilter filter;
  filter.account_ids_.insert(request.account_ids().begin(), request.account_ids().end());
  filter.device_ids_.insert(request.device_ids().begin(), request.device_ids().end());
  filter.types_.insert(request.types().begin(), request.types().end());
  return filter;
}

bool EventFilter::Matches(const DeviceEvent& event) const {
  return ListMatches(account_ids_, event.account_id()) &&
         ListMatches(device_ids_, event.device_id()) && ListMatches(types_, event.type());
}

}  // namespace hive

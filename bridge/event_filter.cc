#include "bridge/event_filter.h"

#include "bridge/uuid.h"

namespace hive {
namespace {

bool ListMatches(const absl::flat_hash_set<std::string>& allowed, const std::string& value) {
  return allowed.empty() || allowed.contains(value);
}

}  // namespace

EventFilter EventFilter::FromRequest(const SubscribeEventsRequest& request) {
  EventFilter filter;
  // Ids are matched in their canonical (lowercase) spelling, as devices are stamped.
  for (const std::string& id : request.account_ids()) filter.account_ids_.insert(CanonicalUuid(id));
  for (const std::string& id : request.device_ids()) filter.device_ids_.insert(CanonicalUuid(id));
  filter.types_.insert(request.types().begin(), request.types().end());
  return filter;
}

bool EventFilter::Matches(const DeviceEvent& event) const {
  return ListMatches(account_ids_, event.account_id()) && ListMatches(device_ids_, event.device_id()) &&
         ListMatches(types_, event.type());
}

}  // namespace hive

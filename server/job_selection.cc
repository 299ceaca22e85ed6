#include "server/job_selection.h"

#include <algorithm>
#include <functional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bridge/codec/device_event.h"
#include "bridge/uuid.h"
#include "google/protobuf/util/json_util.h"
#include "rapidjson/document.h"
#include "server/backend_access.h"

namespace hive::server {
namespace {

using hive::bridge::v1::Device;
using hive::bridge::v1::DeviceSelector;
using hive::bridge::v1::TwinFieldMatch;

// The devices ListDevices' paging reads at a time.
constexpr size_t kPage = 1000;

// The member at `path` ("a.b.c") of `json`; null when absent.
const rapidjson::Value* Member(const rapidjson::Value& json, const std::string& path) {
  const rapidjson::Value* at = &json;
  for (absl::string_view name : absl::StrSplit(path, '.')) {
    if (!at->IsObject()) return nullptr;
    auto it = at->FindMember(rapidjson::StringRef(name.data(), name.size()));
    if (it == at->MemberEnd()) return nullptr;
    at = &it->value;
  }
  return at;
}

absl::Status CheckFields(const google::protobuf::RepeatedPtrField<TwinFieldMatch>& fields) {
  for (int i = 0; i < fields.size(); ++i) {
    const TwinFieldMatch& field = fields[i];
    const std::string where = absl::StrCat("target.selector.fields[", i, "]");
    if (field.event_type().empty()) return absl::InvalidArgumentError(absl::StrCat(where, ".event_type: empty"));
    if (field.path().empty() || absl::StrContains(field.path(), "..") || field.path().front() == '.' ||
        field.path().back() == '.') {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".path: \"", field.path(), "\" is not a dot-separated path of member names"));
    }
    if (!field.has_equals()) return absl::InvalidArgumentError(absl::StrCat(where, ".equals: not set"));
  }
  return absl::OkStatus();
}

// The listing a (checked) selector asks of the view, from the start.
DeviceView::Query QueryOf(const DeviceSelector& selector) {
  DeviceView::Query query;
  if (IsUuid(selector.account_id())) query.account_id = CanonicalUuid(selector.account_id());
  query.presence = selector.presence() == hive::bridge::v1::PRESENCE_UNSPECIFIED ? hive::bridge::v1::PRESENCE_ALL
                                                                                 : selector.presence();
  query.version = selector.version();
  query.limit = kPage;
  return query;
}

// Calls `take` with each device the selector matches, in device id order,
// until it returns false.
void ForEachMatch(const DeviceView& view, const DeviceSelector& selector,
                  const std::function<bool(const Device&)>& take) {
  DeviceView::Query query = QueryOf(selector);
  while (true) {
    const std::vector<Device> page = view.List(query);
    for (const Device& device : page) {
      if (MatchesTwinFields(device, selector.fields()) && !take(device)) return;
    }
    if (page.size() < query.limit) return;
    query.after = page.back().device_id();
  }
}

absl::StatusOr<JobSelection> SelectBySelector(const DeviceView& view, const DeviceSelector& selector,
                                              const std::optional<BackendGrant>& grant, size_t max_devices) {
  if (!selector.account_id().empty() && !IsUuid(selector.account_id())) {
    return absl::InvalidArgumentError("target.selector.account_id: not a UUID");
  }
  const DeviceView::Query query = QueryOf(selector);
  if (grant.has_value() && !grant->all_accounts()) {
    if (query.account_id.empty()) {
      return absl::PermissionDeniedError(
          absl::StrCat("caller \"", grant->caller(), "\" must name one of its accounts in target.selector.account_id"));
    }
    if (!grant->Allows(query.account_id)) return AccountDenied(*grant, query.account_id);
  }
  if (!hive::bridge::v1::Presence_IsValid(selector.presence())) {
    return absl::InvalidArgumentError("target.selector.presence: not a Presence");
  }
  if (absl::Status fields = CheckFields(selector.fields()); !fields.ok()) return fields;
  JobSelection selection{{}, query.account_id};
  bool over = false;
  ForEachMatch(view, selector, [&](const Device& device) {
    if (selection.device_ids.size() == max_devices) return !(over = true);
    selection.device_ids.push_back(device.device_id());
    return true;
  });
  if (over) {
    return absl::ResourceExhaustedError(absl::StrCat("the selector matches more than --max-job-devices (", max_devices,
                                                     ") devices; narrow it or split the job"));
  }
  return selection;
}

absl::StatusOr<JobSelection> SelectByList(const DeviceView& view, const hive::bridge::v1::JobDeviceList& list,
                                          const std::optional<BackendGrant>& grant, size_t max_devices) {
  if (static_cast<size_t>(list.device_ids_size()) > max_devices) {
    return absl::ResourceExhaustedError(absl::StrCat("target.devices lists ", list.device_ids_size(),
                                                     " devices, over --max-job-devices (", max_devices, ")"));
  }
  std::vector<std::string> ids;
  absl::flat_hash_set<std::string> accounts;
  for (int i = 0; i < list.device_ids_size(); ++i) {
    const std::string& id = list.device_ids(i);
    if (!IsUuid(id)) {
      return absl::InvalidArgumentError(absl::StrCat("target.devices.device_ids[", i, "]: \"", id, "\" is not a UUID"));
    }
    std::optional<Device> device = view.Find(CanonicalUuid(id));
    // A restricted caller learns nothing of other accounts' devices.
    if (!device.has_value() || (grant.has_value() && !grant->Allows(device->account_id()))) {
      return absl::NotFoundError(
          absl::StrCat("target.devices.device_ids[", i, "]: device ", id, " is not known to the bridge"));
    }
    ids.push_back(device->device_id());
    accounts.insert(device->account_id());
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  JobSelection selection{std::move(ids), accounts.size() == 1 ? *accounts.begin() : ""};
  // A restricted caller's job names its account in every request, as a
  // queued request of such a caller must (the deliverer checks it).
  if (grant.has_value() && !grant->all_accounts() && selection.account_id.empty() && !accounts.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("target.devices: caller \"", grant->caller(),
                                                   "\" may send a job to one account at a time; these devices "
                                                   "belong to ",
                                                   accounts.size(), " accounts"));
  }
  return selection;
}

}  // namespace

bool MatchesTwinFields(const Device& device, const google::protobuf::RepeatedPtrField<TwinFieldMatch>& fields) {
  for (const TwinFieldMatch& field : fields) {
    auto reported = device.reported().find(field.event_type());
    if (reported == device.reported().end()) return false;
    rapidjson::Document event;
    const std::string event_json = codec::EncodeDeviceEvent(reported->second, codec::Dialect::kStandard);
    event.Parse(event_json.data(), event_json.size());
    std::string expected_json;
    if (!google::protobuf::util::MessageToJsonString(field.equals(), &expected_json).ok()) return false;
    rapidjson::Document expected;
    expected.Parse(expected_json.data(), expected_json.size());
    const rapidjson::Value* actual = event.HasParseError() ? nullptr : Member(event, field.path());
    if (actual == nullptr || expected.HasParseError() || !(*actual == expected)) return false;
  }
  return true;
}

bool SelectorJoins::Matches(const DeviceSelector& selector, const std::string& device_id) const {
  std::optional<Twin> twin;
  std::optional<Device> device = view_.Find(device_id, twin);
  if (!device.has_value()) return false;
  const DeviceView::Query query = QueryOf(selector);
  bool online = device->online();
  if (twin.has_value() && twin->connection != Twin::Connection::kUnknown) {
    online = twin->connection == Twin::Connection::kConnected;
  }
  const bool presence_matches = query.presence == hive::bridge::v1::PRESENCE_ALL ||
                                online == (query.presence == hive::bridge::v1::PRESENCE_ONLINE);
  return presence_matches && (query.account_id.empty() || device->account_id() == query.account_id) &&
         (query.version.empty() || device->version() == query.version) && MatchesTwinFields(*device, selector.fields());
}

std::vector<std::string> SelectorJoins::Select(const DeviceSelector& selector, size_t limit) const {
  std::vector<std::string> ids;
  if (limit == 0) return ids;
  ForEachMatch(view_, selector, [&](const Device& device) {
    ids.push_back(device.device_id());
    return ids.size() < limit;
  });
  return ids;
}

absl::StatusOr<JobSelection> SelectJobDevices(const DeviceView& view, const hive::bridge::v1::JobTarget& target,
                                              const std::optional<BackendGrant>& grant, size_t max_devices) {
  absl::StatusOr<JobSelection> ids;
  switch (target.target_case()) {
    case hive::bridge::v1::JobTarget::kDevices:
      ids = SelectByList(view, target.devices(), grant, max_devices);
      break;
    case hive::bridge::v1::JobTarget::kSelector:
      ids = SelectBySelector(view, target.selector(), grant, max_devices);
      break;
    default:
      return absl::InvalidArgumentError("target: set devices or selector");
  }
  if (ids.ok() && ids->device_ids.empty()) {
    return absl::FailedPreconditionError("target: no device matches; the job would do nothing");
  }
  return ids;
}

}  // namespace hive::server

#include "server/cluster_local_devices.h"

#include <cstdint>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/close_codes.h"
#include "google/protobuf/util/time_util.h"

namespace hive {

using google::protobuf::util::TimeUtil;

std::vector<hive::bridge::v1::Device> ClusterLocalDevices::List() const { return registry_.List("", "", SIZE_MAX); }

bool ClusterLocalDevices::Deliver(const hive::bridge::v1::SendDeviceRequestRequest& request,
                                  absl::string_view traceparent, absl::Time deadline, RequestCorrelator::Done done) {
  std::shared_ptr<DeviceLink> link = registry_.Find(request.device_id());
  if (link == nullptr) return false;
  DeliveredRequest delivered = DeliveredRequest::AsIs(request);
  delivered.traceparent = traceparent;
  DeliverToDevice(*link, delivered, deadline, limits_, correlator_, std::move(done));
  return true;
}

bool ClusterLocalDevices::CloseIfReplaced(const hive::bridge::v1::Device& newer) {
  std::shared_ptr<DeviceLink> local = registry_.Find(newer.device_id());
  if (local == nullptr || TimeUtil::TimestampToNanoseconds(local->Describe().connected_at()) >=
                              TimeUtil::TimestampToNanoseconds(newer.connected_at())) {
    return false;
  }
  local->Close(close_code::kReplaced, absl::StrCat("replaced by a newer connection on replica ", newer.replica()));
  return true;
}

}  // namespace hive

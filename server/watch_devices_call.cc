#include "server/watch_devices_call.h"

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "bridge/event_filter.h"
#include "bridge/uuid.h"
#include "server/grpc_status.h"
#include "server/stream_write_reactor.h"
#include "server/subscribe_events_call.h"

namespace hive::server {
namespace {

using hive::bridge::v1::Device;
using hive::bridge::v1::DeviceEvent;
using hive::bridge::v1::SubscribeEventsRequest;
using hive::bridge::v1::WatchDevicesRequest;
using hive::bridge::v1::WatchDevicesResponse;

// Twins taken from the store per snapshot step.
constexpr size_t kSnapshotStep = 64;

// The subscription's filter: the request's ids and every type that changes
// a twin.
SubscribeEventsRequest AsSubscription(const WatchDevicesRequest& request, const TwinTypes& types) {
  SubscribeEventsRequest subscription;
  *subscription.mutable_account_ids() = request.account_ids();
  *subscription.mutable_device_ids() = request.device_ids();
  for (std::string& type : types.ChangingTypes(request.alive())) subscription.add_types(std::move(type));
  return subscription;
}

class WatchDevicesReactor final : public StreamWriteReactor<WatchDevicesResponse> {
 public:
  WatchDevicesReactor(const WatchDevicesRequest& request, const WatchDevicesDeps& deps)
      : twins_(deps.twins), view_(deps.view) {
    for (const std::string& id : request.account_ids()) accounts_.insert(CanonicalUuid(id));
    for (const std::string& id : request.device_ids()) devices_.insert(CanonicalUuid(id));
    hive::bridge::v1::StreamPosition after;
    after.set_epoch(deps.hub.epoch());
    after.set_sequence(deps.twins.applied_sequence());
    absl::MutexLock lock(&mu_);
    absl::StatusOr<std::unique_ptr<Subscription>> subscription = deps.hub.TrySubscribe(
        EventFilter::FromRequest(AsSubscription(request, deps.types)), after, [this] { WriteNext(); });
    if (!subscription.ok()) {  // --max-subscribers
      FinishLocked(ToGrpcStatus(subscription.status()));
      return;
    }
    subscription_ = *std::move(subscription);
    WriteNextLocked();
  }

 private:
  bool Matches(const Twin& twin) const {
    return (accounts_.empty() || accounts_.contains(twin.account_id)) &&
           (devices_.empty() || devices_.contains(twin.device_id));
  }

  bool NextLocked(WatchDevicesResponse& response) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) override {
    if (subscription_ == nullptr) return false;
    response.Clear();
    if (in_snapshot_) {
      if (std::optional<Device> device = NextOfSnapshotLocked()) {
        *response.mutable_device() = *std::move(device);
        MoreFollowsLocked();  // another twin, or snapshot_complete
      } else {
        in_snapshot_ = false;
        response.set_snapshot_complete(true);
      }
      return true;
    }
    // The subscription has the turn only here, after the snapshot.
    bool more_queued = false;
    std::shared_ptr<const DeviceEvent> event = subscription_->Next(&more_queued);
    if (event == nullptr) {
      if (subscription_->is_closed()) FinishLocked(grpc::Status::OK);  // the bridge is draining
      return false;
    }
    if (event->has_gap()) {
      // Fell behind: the twins as they stand now include what was missed.
      in_snapshot_ = true;
      cursor_.clear();
      snapshot_end_ = false;
      pending_.clear();
      return NextLocked(response);
    }
    if (std::optional<Device> device = view_.Find(event->device_id())) {
      *response.mutable_device() = *std::move(device);
    } else {
      // Forgotten already (--max-twins): the event still says what happened.
      response.mutable_device()->set_device_id(event->device_id());
      response.mutable_device()->set_account_id(event->account_id());
    }
    *response.mutable_event() = *event;
    if (more_queued) MoreFollowsLocked();
    return true;
  }

  // The next twin of the snapshot, or nullopt at its end.
  std::optional<Device> NextOfSnapshotLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (pending_.empty() && !snapshot_end_) {
      TwinStore::Page page =
          twins_.PageAfter(cursor_, kSnapshotStep, [this](const Twin& twin) { return Matches(twin); });
      cursor_ = page.last_scanned;
      snapshot_end_ = page.end;
      for (Twin& twin : page.twins) pending_.push_back(std::move(twin.device_id));
    }
    while (!pending_.empty()) {
      const std::string id = std::move(pending_.front());
      pending_.pop_front();
      // As it stands now, not as it stood when its page was taken.
      if (std::optional<Device> device = view_.Find(id)) return device;
    }
    return std::nullopt;
  }

  void OnStreamDone() override {
    // Unsubscribing waits out any wake in flight, so none reaches a deleted reactor.
    std::unique_ptr<Subscription> subscription;
    {
      absl::MutexLock lock(&mu_);
      subscription = std::move(subscription_);
    }
    subscription.reset();
  }

  const TwinStore& twins_;
  const DeviceView& view_;
  absl::flat_hash_set<std::string> accounts_;
  absl::flat_hash_set<std::string> devices_;

  std::unique_ptr<Subscription> subscription_ ABSL_GUARDED_BY(mu_);
  bool in_snapshot_ ABSL_GUARDED_BY(mu_) = true;
  // The snapshot's walk: the last device id taken from the store, and the
  // ids taken but not sent yet.
  std::string cursor_ ABSL_GUARDED_BY(mu_);
  bool snapshot_end_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<std::string> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

grpc::ServerWriteReactor<WatchDevicesResponse>* RejectWatchDevices(const absl::Status& why) {
  return RejectStream<WatchDevicesResponse>(ToGrpcStatus(why));
}

grpc::ServerWriteReactor<WatchDevicesResponse>* StartWatchDevices(const WatchDevicesRequest& request,
                                                                  const WatchDevicesDeps& deps) {
  if (deps.draining) {
    return RejectStream<WatchDevicesResponse>(grpc::Status(grpc::StatusCode::UNAVAILABLE, "bridge is shutting down"));
  }
  // The same id checks as SubscribeEvents, naming the same fields.
  if (absl::Status valid = ValidateSubscribeEvents(AsSubscription(request, deps.types)); !valid.ok()) {
    return RejectStream<WatchDevicesResponse>(ToGrpcStatus(valid));
  }
  return new WatchDevicesReactor(request, deps);
}

}  // namespace hive::server

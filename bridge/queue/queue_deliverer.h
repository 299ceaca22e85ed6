// bridge/queue/queue_deliverer.h
// Delivers queued requests to their device when it connects to this replica,
// in the order they were queued, at most once, on a thread of its own (the
// store's disk writes never run on a device's I/O thread or under the
// registry's lock).
//
// For each QUEUED request of a device that registered, oldest first: one
// whose TTL passed becomes EXPIRED; any other is first marked SENT durably
// (RequestQueue::HandOver) and only then handed to the device's link through
// DeliverToDevice, registered with the correlator under its request id (so
// the device's ack and result are matched, and a retry never sends it again)
// and watched (RequestCorrelator::Watch::kQueued). The correlator's changes
// come back through OnProgress and are recorded (ACKED, SUCCEEDED, FAILED,
// UNCONFIRMED), then published as request-outcome events. A request the
// connection certainly never wrote (it closed first, or its send queue was
// full) goes back to QUEUED, and the device's delivery stops there until its
// next request is written or it connects again, so order holds.
//
//   QueueDeliverer deliverer(queue, registry, correlator, events, clock, {delivery});
//   registry.Observe(&deliverer);                 // OnRegistered → deliver
//   events.ForwardQueued([&](auto change) { deliverer.OnProgress(std::move(change)); });
//   ... a ticker: deliverer.Expire(retention);
//   deliverer.Stop();                             // before the correlator fails what is left
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/clock.h"
#include "bridge/device_delivery.h"
#include "bridge/presence_observer.h"
#include "bridge/queue/request_outcome_events.h"
#include "bridge/queue/request_queue.h"
#include "bridge/request_correlator.h"
#include "bridge/session_registry.h"

namespace hive {

class QueueDeliverer final : public PresenceObserver {
 public:
  struct Options {
    DeliveryLimits delivery;
    // Requests read from the store at a time.
    size_t batch = 64;
  };

  QueueDeliverer(RequestQueue& queue, SessionRegistry& registry, RequestCorrelator& correlator,
                 RequestOutcomeEvents& events, const Clock& clock, Options options);
  // Stops (see Stop).
  ~QueueDeliverer() override;
  QueueDeliverer(const QueueDeliverer&) = delete;
  QueueDeliverer& operator=(const QueueDeliverer&) = delete;

  // Shutdown, before the correlator fails what is in flight: finishes the
  // task at hand and drops the rest. Requests handed over and not yet
  // answered stay SENT, and become UNCONFIRMED when the store is opened
  // next: the device may have them.
  void Stop();

  // PresenceObserver: a device registered here; its queue is delivered.
  void OnRegistered(const DeviceLink& link) override;
  void OnUnregistered(const DeviceLink&) override {}

  // A request of `device_id` was just queued: deliver it if the device is
  // (by now) connected, and publish `record`'s QUEUED event first.
  void Queued(const RequestRecord& record);

  // Publishes `record`'s request-outcome event, in order with the events
  // this deliverer publishes.
  void Publish(const RequestRecord& record);

  // Cluster mode: a request of `device_id` was queued (by any replica):
  // deliver it if the device is connected here. Only posts work.
  void Arrived(const std::string& device_id);

  // Cluster mode: `replica` went away (or this replica restarted) leaving
  // `request_ids` claimed and unanswered: they become UNCONFIRMED (the first
  // replica to say so publishes the event). Only posts work.
  void Orphaned(std::string replica, std::vector<std::string> request_ids);

  // Whether a request for `device_id` sent now would overtake queued ones:
  // some are QUEUED, or being handed over.
  bool Behind(const std::string& device_id) const;

  // A watched request's outcome changed (from the correlator, on any thread).
  void OnProgress(RequestCorrelator::OutcomeChange change);

  // Expires QUEUED requests whose TTL passed and deletes records that ended
  // more than `retention` ago. From a ticker; runs on the caller's thread.
  void Expire(absl::Duration retention);

 private:
  using Task = absl::AnyInvocable<void() &&>;

  void Post(Task task);
  void Run();
  void Deliver(const std::string& device_id);
  // Hands one QUEUED request to `link`; false when the device's delivery
  // must stop here (the request went back to QUEUED).
  bool DeliverOne(DeviceLink& link, RequestQueue::Stored stored);
  // The link certainly never wrote a handed-over request: back in line.
  void Requeue(const std::string& request_id, const std::string& device_id);
  void Record(const RequestCorrelator::OutcomeChange& change);
  // Records `status` for a request that ended at delivery (refused).
  void Ended(const std::string& request_id, RequestStatus status, const std::string& error);
  void PublishOrLog(const absl::StatusOr<std::optional<RequestRecord>>& record, const std::string& request_id);

  RequestQueue& queue_;
  SessionRegistry& registry_;
  RequestCorrelator& correlator_;
  RequestOutcomeEvents& events_;
  const Clock& clock_;
  const Options options_;

  // What a delivered request's Done reaches, which may run after Stop on a
  // device's I/O thread: null once stopped.
  struct Handle {
    absl::Mutex mu;
    QueueDeliverer* deliverer ABSL_GUARDED_BY(mu) = nullptr;
  };
  const std::shared_ptr<Handle> handle_ = std::make_shared<Handle>();

  mutable absl::Mutex mu_;
  std::deque<Task> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Devices whose queue is being handed over right now.
  absl::flat_hash_set<std::string> delivering_ ABSL_GUARDED_BY(mu_);
  // Last: started once everything above is ready.
  std::thread thread_;
};

}  // namespace hive

// bridge/queue/request_outcome_events.h
// Publishes `request-outcome` events (service "hive-backend"): every status
// change of a queued request, and of any request sent with outcome_events,
// becomes a DeviceEvent on the bus the device sessions publish to, so it
// reaches SubscribeEvents like a device's own events (filterable by type,
// device and account).
//
// It is the correlator's OutcomeObserver: changes of requests watched for
// events are published at once; changes of queued requests go to the queue's
// deliverer (set with ForwardQueued), which records them durably first and
// then publishes them through Publish().
//
//   RequestOutcomeEvents events(bus, clock);
//   correlator.Observe(&events);
//   events.Publish(record);   // a queued request's record after a change
#pragma once

#include <string>

#include "absl/functional/any_invocable.h"
#include "bridge/clock.h"
#include "bridge/event_sink.h"
#include "bridge/request_correlator.h"
#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive {

class RequestOutcomeEvents final : public RequestCorrelator::OutcomeObserver {
 public:
  // Receives the changes of queued requests (RequestCorrelator::Watch::kQueued).
  using QueuedChanges = absl::AnyInvocable<void(RequestCorrelator::OutcomeChange)>;

  RequestOutcomeEvents(EventSink& sink, const Clock& clock) : sink_(sink), clock_(clock) {}

  // Set once, before requests flow.
  void ForwardQueued(QueuedChanges forward) { forward_ = std::move(forward); }

  void OnOutcome(RequestCorrelator::OutcomeChange change) override;

  // Publishes a queued request's record as it stands now.
  void Publish(const hive::bridge::v1::RequestRecord& record);

 private:
  void Publish(const std::string& request_id, const std::string& device_id, const std::string& account_id,
               hive::bridge::v1::RequestStatus status, const std::string& error,
               const google::protobuf::Struct* result);

  EventSink& sink_;
  const Clock& clock_;
  QueuedChanges forward_;
};

// The status a request's outcome change stands for, as GetRequest answers
// it: a request whose connection closed before the device acknowledged it
// is UNCONFIRMED; one not yet written counts as SENT (handed to the
// connection).
hive::bridge::v1::RequestStatus StatusOf(const RequestCorrelator::OutcomeChange& change);

}  // namespace hive

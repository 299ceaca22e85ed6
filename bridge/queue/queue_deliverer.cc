#include "bridge/queue/queue_deliverer.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge/log.h"
#include "google/protobuf/util/time_util.h"

namespace hive {
namespace {

using google::protobuf::util::TimeUtil;

bool Acked(RequestStatus status) {
  return status == hive::bridge::v1::REQUEST_STATUS_ACKED || status == hive::bridge::v1::REQUEST_STATUS_SUCCEEDED ||
         status == hive::bridge::v1::REQUEST_STATUS_FAILED;
}

}  // namespace

QueueDeliverer::QueueDeliverer(RequestQueue& queue, SessionRegistry& registry, RequestCorrelator& correlator,
                               RequestOutcomeEvents& events, const Clock& clock, Options options)
    : queue_(queue), registry_(registry), correlator_(correlator), events_(events), clock_(clock), options_(options) {
  {
    absl::MutexLock lock(&handle_->mu);
    handle_->deliverer = this;
  }
  thread_ = std::thread([this] { Run(); });
}

QueueDeliverer::~QueueDeliverer() { Stop(); }

void QueueDeliverer::Stop() {
  {
    absl::MutexLock lock(&handle_->mu);
    handle_->deliverer = nullptr;
  }
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    tasks_.clear();
  }
  if (thread_.joinable()) thread_.join();
}

void QueueDeliverer::Post(Task task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  tasks_.push_back(std::move(task));
}

void QueueDeliverer::Run() {
  while (true) {
    Task task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](QueueDeliverer* self)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) { return self->stopping_ || !self->tasks_.empty(); },
          this));
      if (stopping_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    std::move(task)();
  }
}

void QueueDeliverer::OnRegistered(const DeviceLink& link) {
  // Under the registry's lock: only queue the work.
  Post([this, device_id = link.device_id()] { Deliver(device_id); });
}

void QueueDeliverer::Queued(const RequestRecord& record) {
  Post([this, record] {
    events_.Publish(record);
    Deliver(record.device_id());
  });
}

void QueueDeliverer::Publish(const RequestRecord& record) {
  Post([this, record] { events_.Publish(record); });
}

void QueueDeliverer::Arrived(const std::string& device_id) {
  Post([this, device_id] { Deliver(device_id); });
}

void QueueDeliverer::Orphaned(std::string replica, std::vector<std::string> request_ids) {
  if (request_ids.empty()) return;
  Post([this, replica = std::move(replica), request_ids = std::move(request_ids)] {
    for (const std::string& request_id : request_ids) {
      Log(LogLevel::kInfo, "queued_request_orphaned", {{"request", request_id}, {"replica", replica}});
      PublishOrLog(queue_.Orphan(request_id, replica), request_id);
    }
  });
}

bool QueueDeliverer::Behind(const std::string& device_id) const {
  if (queue_.queued_for(device_id) > 0) return true;
  absl::MutexLock lock(&mu_);
  return delivering_.contains(device_id);
}

void QueueDeliverer::OnProgress(RequestCorrelator::OutcomeChange change) {
  Post([this, change = std::move(change)] { Record(change); });
}

void QueueDeliverer::Deliver(const std::string& device_id) {
  std::shared_ptr<DeviceLink> link = registry_.Find(device_id);
  if (link == nullptr) return;
  {
    absl::MutexLock lock(&mu_);
    delivering_.insert(device_id);
  }
  bool go_on = true;
  while (go_on) {
    absl::StatusOr<std::vector<RequestQueue::Stored>> batch = queue_.Queued(device_id, options_.batch);
    if (!batch.ok()) {
      Log(LogLevel::kError, "queue_read_failed", {{"device", device_id}, {"error", batch.status().ToString()}});
      break;
    }
    if (batch->empty()) break;
    for (RequestQueue::Stored& stored : *batch) {
      go_on = DeliverOne(*link, std::move(stored));
      if (!go_on) break;
    }
  }
  absl::MutexLock lock(&mu_);
  delivering_.erase(device_id);
}

bool QueueDeliverer::DeliverOne(DeviceLink& link, RequestQueue::Stored stored) {
  const std::string& request_id = stored.record.request_id();
  const absl::Time expires_at = absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(stored.record.expires_at()));
  if (expires_at <= clock_.Now()) {
    // Its TTL passed: never sent. Expire() marks it (and any other due).
    Expire(absl::InfiniteDuration());
    // Still QUEUED (the store, or in cluster mode the broker, failed): this
    // device's delivery stops here rather than try it again at once.
    absl::StatusOr<std::optional<RequestQueue::Stored>> after = queue_.Get(request_id);
    return after.ok() && after->has_value() && (*after)->record.status() != hive::bridge::v1::REQUEST_STATUS_QUEUED;
  }
  absl::StatusOr<bool> handed = queue_.HandOver(request_id);
  if (!handed.ok()) {
    Log(LogLevel::kError, "queue_write_failed", {{"request", request_id}, {"error", handed.status().ToString()}});
    return false;
  }
  if (!*handed) return true;  // cancelled or expired meanwhile
  // Durably SENT: from here a crash leaves it UNCONFIRMED, never resent.
  // Done may run now (a refusal) or later on the device's I/O thread; only a
  // request the link certainly never wrote comes back here, to be requeued.
  // "Now" means on this thread before DeliverToDevice returned: the link's
  // I/O thread may write it (and complete a WAIT_MODE_NONE waiter) before
  // that, and its outcome belongs to the observer, never to this path.
  struct Sync {
    const std::thread::id caller = std::this_thread::get_id();
    absl::Mutex mu;
    bool returned ABSL_GUARDED_BY(mu) = false;
    std::optional<absl::StatusOr<SendDeviceRequestResponse>> outcome ABSL_GUARDED_BY(mu);
  };
  auto sync = std::make_shared<Sync>();
  RequestCorrelator::Done done = [sync, handle = handle_, request_id,
                                  device_id = link.device_id()](absl::StatusOr<SendDeviceRequestResponse> outcome) {
    {
      absl::MutexLock lock(&sync->mu);
      if (!sync->returned && std::this_thread::get_id() == sync->caller) {
        sync->outcome = std::move(outcome);
        return;
      }
    }
    // Later: written (the observer records it), or certainly never written
    // (the link closed first, or its queue was full: RequestCorrelator::Fail).
    if (outcome.ok()) return;
    if (!absl::IsUnavailable(outcome.status()) && !absl::IsResourceExhausted(outcome.status())) return;
    absl::MutexLock lock(&handle->mu);
    if (handle->deliverer == nullptr) return;  // stopping: it stays SENT, to be UNCONFIRMED
    QueueDeliverer* deliverer = handle->deliverer;
    deliverer->Post([deliverer, request_id, device_id] { deliverer->Requeue(request_id, device_id); });
  };
  // The deliverer waits only until the link writes it (or certainly does
  // not): the ack and result come through the observer, so nothing holds a
  // --max-requests-per-device place past the write, and a close after the
  // write is never mistaken for "not written".
  stored.request.set_wait(hive::bridge::v1::WAIT_MODE_NONE);
  const SendDeviceRequestRequest& request = stored.request;
  std::optional<RequestCorrelator::WaiterId> waiter = DeliverToDevice(
      link,
      {request, request.request_id(), request.device_id(), request.account_id(), RequestCorrelator::Watch::kQueued},
      absl::InfiniteFuture(), options_.delivery, correlator_, std::move(done));
  std::optional<absl::StatusOr<SendDeviceRequestResponse>> now;
  {
    absl::MutexLock lock(&sync->mu);
    sync->returned = true;
    now = std::move(sync->outcome);
  }
  if (!now.has_value()) return true;  // handed to the link: it answers for it
  if (now->ok()) {
    // It joined a request already sent under the same id: record where that
    // one stands.
    RequestCorrelator::OutcomeChange change{request_id,
                                            link.device_id(),
                                            link.account_id(),
                                            RequestCorrelator::Watch::kQueued,
                                            **now,
                                            /*unconfirmed=*/false,
                                            /*closed_how=*/{}};
    Record(change);
    return true;
  }
  const absl::Status& why = now->status();
  if (!waiter.has_value() || absl::IsInvalidArgument(why) || absl::IsPermissionDenied(why)) {
    // Refused for what it is (account, encoding, size, id reuse): it never
    // will be delivered.
    Ended(request_id, hive::bridge::v1::REQUEST_STATUS_FAILED, std::string(why.message()));
    return true;
  }
  if (absl::IsAborted(why)) {
    Ended(request_id, hive::bridge::v1::REQUEST_STATUS_UNCONFIRMED, std::string(why.message()));
    return true;
  }
  // Not written now (the link's queue is full, the device's pending limit is
  // reached, or the link is closing): back in line, and this device's
  // delivery waits for its next written request or its next connect.
  Log(LogLevel::kInfo, "queued_request_deferred",
      {{"request", request_id}, {"device", link.device_id()}, {"why", std::string(why.message())}});
  if (absl::Status requeued = queue_.Requeue(request_id); !requeued.ok()) {
    Log(LogLevel::kError, "queue_write_failed", {{"request", request_id}, {"error", requeued.ToString()}});
  }
  return false;
}

void QueueDeliverer::Requeue(const std::string& request_id, const std::string& device_id) {
  if (absl::Status requeued = queue_.Requeue(request_id); !requeued.ok()) {
    Log(LogLevel::kError, "queue_write_failed", {{"request", request_id}, {"error", requeued.ToString()}});
    return;
  }
  // The device may have connected again meanwhile.
  Deliver(device_id);
}

void QueueDeliverer::Record(const RequestCorrelator::OutcomeChange& change) {
  RequestStatus status = StatusOf(change);
  std::string error = change.outcome.error();
  bool ended = QueueStatusEnded(status);
  if (change.unconfirmed) {
    ended = true;
    error = Acked(status) ? absl::StrCat("the device acknowledged it, but its connection closed (", change.closed_how,
                                         ") before the result")
                          : absl::StrCat("written to the device's connection, which closed (", change.closed_how,
                                         ") before the device acknowledged it; it may have arrived, so it is not "
                                         "sent again");
  }
  PublishOrLog(queue_.Progress(change.request_id, status, change.outcome, error, ended), change.request_id);
  if (status == hive::bridge::v1::REQUEST_STATUS_SENT && !change.unconfirmed) {
    // Self-clocking: a written request lets a deferred delivery go on.
    if (queue_.queued_for(change.device_id) > 0) {
      Post([this, device_id = change.device_id] { Deliver(device_id); });
    }
  }
}

void QueueDeliverer::Ended(const std::string& request_id, RequestStatus status, const std::string& error) {
  PublishOrLog(queue_.Progress(request_id, status, SendDeviceRequestResponse(), error, true), request_id);
}

void QueueDeliverer::PublishOrLog(const absl::StatusOr<std::optional<RequestRecord>>& record,
                                  const std::string& request_id) {
  if (!record.ok()) {
    Log(LogLevel::kError, "queue_write_failed", {{"request", request_id}, {"error", record.status().ToString()}});
    return;
  }
  if (record->has_value()) events_.Publish(**record);
}

void QueueDeliverer::Expire(absl::Duration retention) {
  absl::StatusOr<std::vector<RequestRecord>> expired = queue_.ExpireDue();
  if (!expired.ok()) {
    Log(LogLevel::kError, "queue_expiry_failed", {{"error", expired.status().ToString()}});
  } else {
    for (const RequestRecord& record : *expired) {
      Log(LogLevel::kInfo, "queued_request_expired",
          {{"request", record.request_id()}, {"device", record.device_id()}});
      events_.Publish(record);
    }
  }
  if (retention == absl::InfiniteDuration()) return;
  if (absl::StatusOr<size_t> deleted = queue_.DeleteEnded(retention); !deleted.ok()) {
    Log(LogLevel::kError, "queue_retention_failed", {{"error", deleted.status().ToString()}});
  }
}

}  // namespace hive

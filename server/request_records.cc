#include "server/request_records.h"

#include "absl/strings/str_cat.h"
#include "bridge/log.h"
#include "bridge/queue/request_record.h"
#include "bridge/uuid.h"
#include "google/protobuf/util/time_util.h"

namespace hive::server {
namespace {

using hive::bridge::v1::RequestRecord;

absl::Status Unknown(const std::string& request_id) {
  return absl::NotFoundError(absl::StrCat("request ", request_id,
                                          " is not known: never sent, or forgotten (--request-retention after a "
                                          "queued request ended, --dedupe-window for a request sent at once)"));
}

absl::StatusOr<std::string> CanonicalRequestId(const std::string& request_id) {
  if (!IsUuid(request_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("request_id: expected a UUID, got \"", request_id.substr(0, 64), "\""));
  }
  return CanonicalUuid(request_id);
}

bool Hidden(const std::optional<BackendGrant>& grant, const std::string& account_id) {
  return grant.has_value() && !grant->Allows(account_id);
}

}  // namespace

absl::StatusOr<RequestRecord> LookUpRequest(const RequestRecordsDeps& deps, const std::string& request_id,
                                            const std::optional<BackendGrant>& grant) {
  absl::StatusOr<std::string> id = CanonicalRequestId(request_id);
  if (!id.ok()) return id.status();
  if (deps.queue != nullptr && deps.queue->Knows(*id)) {
    absl::StatusOr<std::optional<RequestQueue::Stored>> stored = deps.queue->Get(*id);
    if (!stored.ok()) return stored.status();
    if (stored->has_value()) {
      if (Hidden(grant, (*stored)->record.account_id())) return Unknown(*id);
      return std::move((*stored)->record);
    }
  }
  std::optional<RequestCorrelator::Known> known = deps.correlator.Find(*id);
  if (!known.has_value() || Hidden(grant, known->account_id)) return Unknown(*id);
  return RecordOf(*id, *known);
}

absl::StatusOr<RequestRecord> CancelQueuedRequest(const RequestRecordsDeps& deps, const std::string& request_id,
                                                  const std::optional<BackendGrant>& grant,
                                                  absl::string_view trace_id) {
  absl::StatusOr<RequestRecord> record = LookUpRequest(deps, request_id, grant);
  if (!record.ok()) return record.status();
  if (!record->has_queued_at() || deps.queue == nullptr) {
    const std::string when = record->has_sent_at() ? google::protobuf::util::TimeUtil::ToString(record->sent_at())
                                                   : std::string("once it was accepted");
    return absl::FailedPreconditionError(absl::StrCat("request ", record->request_id(),
                                                      " was not queued: it was handed to the device at ", when,
                                                      "; only a queued request (queue_ttl) can be cancelled"));
  }
  absl::StatusOr<RequestQueue::Cancelled> cancelled = deps.queue->Cancel(record->request_id());
  if (!cancelled.ok()) return cancelled.status();
  if (cancelled->changed) {
    Log(LogLevel::kInfo, "queued_request_cancelled",
        {{"request", cancelled->record.request_id()}, {"device", cancelled->record.device_id()}, {"trace", trace_id}});
    if (deps.deliverer != nullptr) deps.deliverer->Publish(cancelled->record);
  }
  return std::move(cancelled->record);
}

}  // namespace hive::server

#include "bridge/bus/job_op_message.h"

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"

namespace hive::cluster {
namespace {

constexpr absl::string_view kProtobuf = "application/x-protobuf";
constexpr absl::string_view kKindHeader = "x-hive-job-op";
constexpr absl::string_view kReplicaHeader = "x-hive-replica";
constexpr absl::string_view kJobIdHeader = "x-hive-job-id";
constexpr absl::string_view kTermHeader = "x-hive-job-term";
constexpr absl::string_view kNextIndexHeader = "x-hive-job-next-index";
constexpr absl::string_view kIndexHeader = "x-hive-job-index";
constexpr absl::string_view kStatusHeader = "x-hive-job-status";
constexpr absl::string_view kReasonHeader = "x-hive-job-reason";
constexpr absl::string_view kAcknowledgesHeader = "x-hive-job-acknowledges";

constexpr std::pair<JobOp::Kind, absl::string_view> kKindNames[] = {
    {JobOp::Kind::kStart, "start"},   {JobOp::Kind::kLease, "lease"}, {JobOp::Kind::kAdvance, "advance"},
    {JobOp::Kind::kRecord, "record"}, {JobOp::Kind::kJoin, "join"},   {JobOp::Kind::kCancel, "cancel"},
    {JobOp::Kind::kMarker, "marker"},
};

std::string TextHeader(const AmqpMessage& message, absl::string_view name) {
  const AmqpValue* value = FindAmqpValue(message.headers, name);
  return value != nullptr && std::holds_alternative<std::string>(*value) ? std::get<std::string>(*value) : "";
}

absl::StatusOr<uint64_t> CountHeader(const AmqpMessage& message, absl::string_view name) {
  const AmqpValue* value = FindAmqpValue(message.headers, name);
  if (value == nullptr || !std::holds_alternative<int64_t>(*value)) {
    return absl::InvalidArgumentError(absl::StrCat("job op: missing integer header ", name));
  }
  const int64_t number = std::get<int64_t>(*value);
  if (number < 0) return absl::InvalidArgumentError(absl::StrCat("job op: negative ", name));
  return static_cast<uint64_t>(number);
}

}  // namespace

AmqpMessage EncodeJobOp(const JobOp& op) {
  AmqpMessage message;
  message.content_type = std::string(kProtobuf);
  message.message_id = op.id;
  message.persistent = true;
  absl::string_view kind;
  for (const auto& [value, name] : kKindNames) {
    if (value == op.kind) kind = name;
  }
  message.headers = {{std::string(kKindHeader), std::string(kind)},
                     {std::string(kReplicaHeader), op.replica},
                     {std::string(kJobIdHeader), op.job_id},
                     {std::string(kTermHeader), static_cast<int64_t>(op.term)}};
  switch (op.kind) {
    case JobOp::Kind::kStart:
    case JobOp::Kind::kJoin: {
      // A job and devices: the shape StartJob answers with.
      hive::bridge::v1::StartJobResponse start;
      *start.mutable_job() = op.job;
      for (const std::string& id : op.device_ids) start.add_device_ids(id);
      message.body = start.SerializeAsString();
      if (op.kind == JobOp::Kind::kJoin) {
        message.headers.emplace_back(std::string(kNextIndexHeader), static_cast<int64_t>(op.next_index));
      }
      break;
    }
    case JobOp::Kind::kAdvance:
      message.body = op.job.SerializeAsString();
      message.headers.emplace_back(std::string(kNextIndexHeader), static_cast<int64_t>(op.next_index));
      break;
    case JobOp::Kind::kRecord:
      message.body = op.change.SerializeAsString();
      if (op.index.has_value())
        message.headers.emplace_back(std::string(kIndexHeader), static_cast<int64_t>(*op.index));
      message.headers.emplace_back(std::string(kStatusHeader), static_cast<int64_t>(op.status));
      break;
    case JobOp::Kind::kCancel:
      message.headers.emplace_back(std::string(kReasonHeader), op.reason);
      break;
    case JobOp::Kind::kMarker:
      message.headers.emplace_back(std::string(kAcknowledgesHeader), op.acknowledges);
      break;
    case JobOp::Kind::kLease:
      break;
  }
  return message;
}

absl::StatusOr<JobOp> DecodeJobOp(const AmqpMessage& message) {
  JobOp op;
  const std::string kind = TextHeader(message, kKindHeader);
  bool known = false;
  for (const auto& [value, name] : kKindNames) {
    if (name == kind) {
      op.kind = value;
      known = true;
    }
  }
  if (!known) return absl::InvalidArgumentError(absl::StrCat("job op: unknown kind \"", kind, "\""));
  op.id = message.message_id;
  if (op.id.empty()) return absl::InvalidArgumentError("job op: no message_id");
  op.replica = TextHeader(message, kReplicaHeader);
  if (op.replica.empty()) return absl::InvalidArgumentError("job op: no replica");
  op.job_id = TextHeader(message, kJobIdHeader);
  if (op.job_id.empty() && op.kind != JobOp::Kind::kMarker) return absl::InvalidArgumentError("job op: no job id");
  absl::StatusOr<uint64_t> term = CountHeader(message, kTermHeader);
  if (!term.ok()) return term.status();
  op.term = *term;
  switch (op.kind) {
    case JobOp::Kind::kStart:
    case JobOp::Kind::kJoin: {
      hive::bridge::v1::StartJobResponse start;
      if (!start.ParseFromString(message.body)) return absl::InvalidArgumentError("job op: not a StartJobResponse");
      if (start.job().job_id() != op.job_id) return absl::InvalidArgumentError("job op: the job's id differs");
      op.job = std::move(*start.mutable_job());
      op.device_ids.assign(start.device_ids().begin(), start.device_ids().end());
      if (op.kind == JobOp::Kind::kJoin) {
        if (op.device_ids.empty()) return absl::InvalidArgumentError("job op: a join of no device");
        absl::StatusOr<uint64_t> first = CountHeader(message, kNextIndexHeader);
        if (!first.ok()) return first.status();
        op.next_index = static_cast<size_t>(*first);
      }
      break;
    }
    case JobOp::Kind::kAdvance: {
      if (!op.job.ParseFromString(message.body)) return absl::InvalidArgumentError("job op: not a Job");
      if (op.job.job_id() != op.job_id) return absl::InvalidArgumentError("job op: the job's id differs");
      absl::StatusOr<uint64_t> next = CountHeader(message, kNextIndexHeader);
      if (!next.ok()) return next.status();
      op.next_index = static_cast<size_t>(*next);
      break;
    }
    case JobOp::Kind::kRecord: {
      if (!op.change.ParseFromString(message.body)) return absl::InvalidArgumentError("job op: not a WatchJobResponse");
      if (op.change.job().job_id() != op.job_id) return absl::InvalidArgumentError("job op: the job's id differs");
      if (FindAmqpValue(message.headers, kIndexHeader) != nullptr) {
        absl::StatusOr<uint64_t> index = CountHeader(message, kIndexHeader);
        if (!index.ok()) return index.status();
        op.index = static_cast<size_t>(*index);
      }
      absl::StatusOr<uint64_t> status = CountHeader(message, kStatusHeader);
      if (!status.ok()) return status.status();
      if (*status > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()) ||
          !hive::bridge::v1::RequestStatus_IsValid(static_cast<int>(*status))) {
        return absl::InvalidArgumentError(absl::StrCat("job op: unknown request status ", *status));
      }
      op.status = static_cast<hive::bridge::v1::RequestStatus>(*status);
      break;
    }
    case JobOp::Kind::kCancel:
      op.reason = TextHeader(message, kReasonHeader);
      break;
    case JobOp::Kind::kMarker:
      op.acknowledges = TextHeader(message, kAcknowledgesHeader);
      break;
    case JobOp::Kind::kLease:
      if (op.term == 0) return absl::InvalidArgumentError("job op: a lease for term 0");
      break;
  }
  return op;
}

}  // namespace hive::cluster

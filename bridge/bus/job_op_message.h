// bridge/bus/job_op_message.h
// Cluster mode: the fleet's jobs log on RabbitMQ (docs/jobs.md, "In a
// cluster") and its operations (bridge/jobs/job_op.h) as AMQP messages, to
// the stream kJobStream through the default exchange. The scalars are
// headers; the protobuf a kind carries is the body (kStart: a
// StartJobResponse with the job and its selection, kAdvance: the Job,
// kRecord: the WatchJobResponse). Signed and checked like every message
// between replicas (message_signer.h, kind kJobOp). Pure functions, so the
// wire format is tested without a broker.
#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bridge/bus/amqp_connection.h"
#include "bridge/jobs/job_op.h"

namespace hive::cluster {

// The fleet's log of job operations; every replica reads it from its first
// offset.
inline constexpr absl::string_view kJobStream = "hive.jobs.stream";

AmqpMessage EncodeJobOp(const JobOp& op);
// INVALID_ARGUMENT naming what is missing or malformed.
absl::StatusOr<JobOp> DecodeJobOp(const AmqpMessage& message);

}  // namespace hive::cluster

// tests/integration/support/job_calls.h
// FleetJobs calls as the jobs tests make them (one bridge and a cluster's
// replicas alike): each with a deadline, returning the gRPC status.
//
//   StartJobRequest request = StopJobRequest(account, /*rate=*/100);
//   StartJobResponse started;
//   ASSERT_TRUE(StartJob(stub, request, &started).ok());
//   grpc::Status end;
//   std::vector<WatchJobResponse> changes = WatchJobToEnd(stub, job_id, 0, &end);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "hive/bridge/v1/jobs.grpc.pb.h"

namespace hive::integration {

// A job of SchedulerAction.stop (a fresh instance) to `account_id`'s
// devices, queued for ten minutes for the offline ones, at `rate` a second.
hive::bridge::v1::StartJobRequest StopJobRequest(const std::string& account_id, double rate);

grpc::Status StartJob(hive::bridge::v1::FleetJobs::Stub& jobs, const hive::bridge::v1::StartJobRequest& request,
                      hive::bridge::v1::StartJobResponse* response, absl::Duration deadline = absl::Seconds(15));
grpc::Status GetJob(hive::bridge::v1::FleetJobs::Stub& jobs, const std::string& job_id, hive::bridge::v1::Job* job);
grpc::Status CancelJob(hive::bridge::v1::FleetJobs::Stub& jobs, const std::string& job_id, hive::bridge::v1::Job* job);

// Every change of the job after `resume_after` until the stream ends (or
// `deadline` passes), and how it ended.
std::vector<hive::bridge::v1::WatchJobResponse> WatchJobToEnd(hive::bridge::v1::FleetJobs::Stub& jobs,
                                                              const std::string& job_id, uint64_t resume_after,
                                                              grpc::Status* end,
                                                              absl::Duration deadline = absl::Seconds(60));

}  // namespace hive::integration

// server/watch_job_call.h
// WatchJob's stream: the job's changes after `resume_after`, read from the
// job store (every change is stored before watchers are woken), then each
// new one as the JobEngine announces it, until a change with the job ended
// has been written (then OK). Nothing is buffered per watcher: a slow reader
// only reads the store later, so it never misses a change nor holds memory.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "bridge/jobs/job_engine.h"
#include "grpcpp/grpcpp.h"
#include "hive/bridge/v1/jobs.pb.h"

namespace hive::server {

// The headers (with kStreamAcceptedMetadata) go out once the first read of
// the history succeeded, before any change: a watch resumed at the job's
// last change has nothing to write until the next one, and its caller (the
// HTTP gateway's 200) should not wait for it.
grpc::ServerWriteReactor<hive::bridge::v1::WatchJobResponse>* StartWatchJob(grpc::CallbackServerContext& context,
                                                                            JobEngine& engine,
                                                                            const std::string& job_id,
                                                                            uint64_t resume_after);

// A stream refused before it began.
grpc::ServerWriteReactor<hive::bridge::v1::WatchJobResponse>* RejectWatchJob(const absl::Status& status);

}  // namespace hive::server

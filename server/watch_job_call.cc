#include "server/watch_job_call.h"

#include <deque>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "server/grpc_status.h"
#include "server/stream_write_reactor.h"

namespace hive::server {
namespace {

using hive::bridge::v1::WatchJobResponse;

// Changes read from the store at a time.
constexpr size_t kBatch = 256;

class WatchJobReactor final : public StreamWriteReactor<WatchJobResponse> {
 public:
  WatchJobReactor(JobEngine& engine, std::string job_id, uint64_t resume_after)
      : engine_(engine), job_id_(std::move(job_id)), sent_(resume_after) {}

  void Begin(grpc::CallbackServerContext& context) {
    // Watch first, then read: a change stored after the read wakes us. A
    // wake-up before the headers are out writes nothing (started_).
    watch_ = engine_.WatchChanges(job_id_, [this](const WatchJobResponse&) { WriteNext(); });
    absl::MutexLock lock(&mu_);
    absl::StatusOr<std::vector<WatchJobResponse>> changes = engine_.History(job_id_, sent_, kBatch);
    if (!changes.ok()) return FinishLocked(ToGrpcStatus(changes.status()));
    pending_.assign(changes->begin(), changes->end());
    context.AddInitialMetadata(kStreamAcceptedMetadata, "1");
    StartSendInitialMetadata();
    started_ = true;
    WriteNextLocked();
  }

 private:
  bool NextLocked(WatchJobResponse& response) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) override {
    if (!started_) return false;
    if (pending_.empty()) {
      absl::StatusOr<std::vector<WatchJobResponse>> changes = engine_.History(job_id_, sent_, kBatch);
      if (!changes.ok()) {
        FinishLocked(ToGrpcStatus(changes.status()));
        return false;
      }
      pending_.assign(changes->begin(), changes->end());
    }
    if (pending_.empty()) {
      if (ended_) FinishLocked(grpc::Status::OK);
      return false;
    }
    response = std::move(pending_.front());
    pending_.pop_front();
    sent_ = response.sequence();
    ended_ = response.job().has_ended_at();
    return true;
  }

  void OnStreamDone() override {
    watch_.reset();  // waits for no callback: it only takes mu_, which is free here
  }

  JobEngine& engine_;
  const std::string job_id_;
  std::unique_ptr<JobEngine::Watch> watch_;
  uint64_t sent_ ABSL_GUARDED_BY(mu_);
  std::deque<WatchJobResponse> pending_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;  // the headers are out
};

}  // namespace

grpc::ServerWriteReactor<WatchJobResponse>* StartWatchJob(grpc::CallbackServerContext& context, JobEngine& engine,
                                                          const std::string& job_id, uint64_t resume_after) {
  auto* reactor = new WatchJobReactor(engine, job_id, resume_after);
  reactor->Begin(context);
  return reactor;
}

grpc::ServerWriteReactor<WatchJobResponse>* RejectWatchJob(const absl::Status& status) {
  return RejectStream<WatchJobResponse>(ToGrpcStatus(status));
}

}  // namespace hive::server

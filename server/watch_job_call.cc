#include "server/watch_job_call.h"

#include <deque>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/grpc_status.h"

namespace hive::server {
namespace {

using hive::bridge::v1::WatchJobResponse;

// Changes read from the store at a time.
constexpr size_t kBatch = 256;

class WatchJobReactor final : public grpc::ServerWriteReactor<WatchJobResponse> {
 public:
  WatchJobReactor(JobEngine& engine, std::string job_id, uint64_t resume_after)
      : engine_(engine), job_id_(std::move(job_id)), sent_(resume_after) {}

  void Begin() {
    // Watch first, then read: a change stored after the read wakes us.
    watch_ = engine_.WatchChanges(job_id_, [this](const WatchJobResponse&) { WriteNext(); });
    WriteNext();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) return FinishLocked(grpc::Status::OK);  // the reader went away
    WriteNextLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    watch_.reset();  // waits for no callback: it only takes mu_, which is free here
    delete this;
  }

 private:
  void WriteNext() {
    absl::MutexLock lock(&mu_);
    WriteNextLocked();
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_) return;
    if (pending_.empty()) {
      absl::StatusOr<std::vector<WatchJobResponse>> changes = engine_.History(job_id_, sent_, kBatch);
      if (!changes.ok()) return FinishLocked(ToGrpcStatus(changes.status()));
      pending_.assign(changes->begin(), changes->end());
    }
    if (pending_.empty()) {
      if (ended_) FinishLocked(grpc::Status::OK);
      return;
    }
    current_ = std::move(pending_.front());
    pending_.pop_front();
    sent_ = current_.sequence();
    ended_ = current_.job().has_ended_at();
    writing_ = true;
    StartWrite(&current_);
  }

  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  JobEngine& engine_;
  const std::string job_id_;
  std::unique_ptr<JobEngine::Watch> watch_;
  absl::Mutex mu_;
  uint64_t sent_ ABSL_GUARDED_BY(mu_);
  std::deque<WatchJobResponse> pending_ ABSL_GUARDED_BY(mu_);
  WatchJobResponse current_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

class RejectedWatch final : public grpc::ServerWriteReactor<WatchJobResponse> {
 public:
  explicit RejectedWatch(const absl::Status& status) { Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerWriteReactor<WatchJobResponse>* StartWatchJob(JobEngine& engine, const std::string& job_id,
                                                          uint64_t resume_after) {
  auto* reactor = new WatchJobReactor(engine, job_id, resume_after);
  reactor->Begin();
  return reactor;
}

grpc::ServerWriteReactor<WatchJobResponse>* RejectWatchJob(const absl::Status& status) {
  return new RejectedWatch(status);
}

}  // namespace hive::server

#include "bridge/bus/remote_calls.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"

namespace hive {

std::string RemoteCalls::Add(std::string replica, absl::Time deadline, RequestCorrelator::Done done) {
  absl::MutexLock lock(&mu_);
  std::string id = absl::StrCat(next_id_++);
  calls_.emplace(id, Call{std::move(replica), deadline, std::move(done)});
  return id;
}

bool RemoteCalls::Pending(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  return calls_.contains(id);
}

void RemoteCalls::Complete(const std::string& id, absl::StatusOr<SendDeviceRequestResponse> outcome) {
  RequestCorrelator::Done done;
  {
    absl::MutexLock lock(&mu_);
    auto it = calls_.find(id);
    if (it == calls_.end()) return;
    done = std::move(it->second.done);
    calls_.erase(it);
  }
  std::move(done)(std::move(outcome));
}

void RemoteCalls::Answer(const std::string& id, const std::string& replica, bool holder,
                         absl::StatusOr<SendDeviceRequestResponse> outcome) {
  if (!holder) {
    absl::MutexLock lock(&mu_);
    auto it = calls_.find(id);
    if (it == calls_.end() || it->second.replica != replica) return;
  }
  Complete(id, std::move(outcome));
}

template <typename Fails>
void RemoteCalls::FailWhere(Fails fails) {
  std::vector<std::pair<RequestCorrelator::Done, absl::Status>> failed;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = calls_.begin(); it != calls_.end();) {
      if (std::optional<absl::Status> why = fails(it->second)) {
        failed.emplace_back(std::move(it->second.done), *std::move(why));
        calls_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  for (auto& [done, why] : failed) std::move(done)(std::move(why));
}

void RemoteCalls::FailReplica(const std::string& replica, const absl::Status& why) {
  FailWhere([&](const Call& call) -> std::optional<absl::Status> {
    if (call.replica == replica) return why;
    return std::nullopt;
  });
}

void RemoteCalls::FailAll(const absl::Status& why) {
  FailWhere([&](const Call&) -> std::optional<absl::Status> { return why; });
}

void RemoteCalls::ExpireDue() {
  const absl::Time now = clock_.Now();
  FailWhere([now](const Call& call) -> std::optional<absl::Status> {
    if (call.deadline > now) return std::nullopt;
    return absl::DeadlineExceededError(absl::StrCat("no answer from replica ", call.replica, " before the deadline"));
  });
}

size_t RemoteCalls::size() const {
  absl::MutexLock lock(&mu_);
  return calls_.size();
}

}  // namespace hive

#include "bridge/bus/remote_calls.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"

namespace hive {

std::string RemoteCalls::Add(std::string replica, absl::Time deadline, RequestCorrelator::Done done) {
  absl::MutexLock lock(&mu_);
  std::string id = absl::StrCat(next_id_++);
  calls_.emplace(id, Call{std::move(replica), deadline, std::move(done)});
  deadlines_.emplace(deadline, id);
  return id;
}

RequestCorrelator::Done RemoteCalls::Take(absl::flat_hash_map<std::string, Call>::iterator it) {
  RequestCorrelator::Done done = std::move(it->second.done);
  deadlines_.erase({it->second.deadline, it->first});
  calls_.erase(it);
  return done;
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
    done = Take(it);
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
        failed.emplace_back(Take(it++), *std::move(why));
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
  std::vector<std::pair<RequestCorrelator::Done, absl::Status>> expired;
  {
    absl::MutexLock lock(&mu_);
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      auto it = calls_.find(deadlines_.begin()->second);
      absl::Status why = absl::DeadlineExceededError(
          absl::StrCat("no answer from replica ", it->second.replica, " before the deadline"));
      expired.emplace_back(Take(it), std::move(why));
    }
  }
  for (auto& [done, why] : expired) std::move(done)(std::move(why));
}

size_t RemoteCalls::size() const {
  absl::MutexLock lock(&mu_);
  return calls_.size();
}

}  // namespace hive

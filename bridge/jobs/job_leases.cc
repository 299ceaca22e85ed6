#include "bridge/jobs/job_leases.h"

namespace hive {

void JobLeases::Started(const std::string& job_id, const std::string& holder) {
  absl::MutexLock lock(&mu_);
  leases_.try_emplace(job_id, Lease{holder, 1});
}

bool JobLeases::Take(const std::string& job_id, const std::string& replica, uint64_t term) {
  absl::MutexLock lock(&mu_);
  auto it = leases_.find(job_id);
  if (it == leases_.end() || term != it->second.term + 1) return false;
  it->second = Lease{replica, term};
  return true;
}

void JobLeases::Ended(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  leases_.erase(job_id);
}

std::optional<JobLeases::Lease> JobLeases::Of(const std::string& job_id) const {
  absl::MutexLock lock(&mu_);
  auto it = leases_.find(job_id);
  if (it == leases_.end()) return std::nullopt;
  return it->second;
}

bool JobLeases::Current(const std::string& job_id, uint64_t term) const {
  absl::MutexLock lock(&mu_);
  auto it = leases_.find(job_id);
  return it != leases_.end() && it->second.term == term;
}

std::vector<std::pair<std::string, uint64_t>> JobLeases::Orphaned(
    const std::string& self, const std::function<bool(const std::string&)>& alive) const {
  std::vector<std::pair<std::string, Lease>> held;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [job_id, lease] : leases_) {
      if (lease.holder != self) held.emplace_back(job_id, lease);
    }
  }
  // `alive` runs without the lock: it takes the fleet directory's.
  std::vector<std::pair<std::string, uint64_t>> orphaned;
  for (const auto& [job_id, lease] : held) {
    if (!alive(lease.holder)) orphaned.emplace_back(job_id, lease.term + 1);
  }
  return orphaned;
}

std::vector<std::string> JobLeases::HeldBy(const std::string& replica) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> held;
  for (const auto& [job_id, lease] : leases_) {
    if (lease.holder == replica) held.push_back(job_id);
  }
  return held;
}

size_t JobLeases::unfinished() const {
  absl::MutexLock lock(&mu_);
  return leases_.size();
}

}  // namespace hive

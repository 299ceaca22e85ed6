#include "server/tls_reloader.h"

#include <sys/stat.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bridge/log.h"

namespace hive::server {

TlsReloader::TlsReloader(std::vector<Target> targets, absl::Duration interval) : interval_(interval) {
  for (Target& target : targets) {
    Fingerprint loaded = FingerprintOf(target.files);
    watched_.push_back({std::move(target), std::move(loaded)});
  }
  if (interval_ > absl::ZeroDuration() && !watched_.empty()) {
    poller_ = std::thread([this] { Poll(); });
  }
}

TlsReloader::~TlsReloader() {
  stop_.Notify();
  if (poller_.joinable()) poller_.join();
}

void TlsReloader::ReloadAll() {
  absl::MutexLock lock(&mu_);
  for (Watched& watched : watched_) Reload(watched, "signal");
}

TlsReloader::Fingerprint TlsReloader::FingerprintOf(const std::vector<std::string>& files) {
  Fingerprint fingerprint;
  for (const std::string& file : files) {
    struct stat info {};
    if (stat(file.c_str(), &info) != 0) {
      fingerprint.push_back("missing");
      continue;
    }
    fingerprint.push_back(absl::StrCat(info.st_dev, ":", info.st_ino, ":", info.st_size, ":", info.st_mtim.tv_sec, ".",
                                       info.st_mtim.tv_nsec, ":", info.st_ctim.tv_sec, ".", info.st_ctim.tv_nsec));
  }
  return fingerprint;
}

void TlsReloader::Reload(Watched& watched, const char* trigger) {
  // Taken before the files are read: a change while they are read shows at
  // the next poll, which reloads again.
  watched.last = FingerprintOf(watched.target.files);
  const absl::Status status = watched.target.reload();
  if (status.ok()) {
    Log(LogLevel::kInfo, "tls_reloaded",
        {{"listener", watched.target.listener},
         {"trigger", trigger},
         {"files", absl::StrJoin(watched.target.files, ",")}});
  } else {
    Log(LogLevel::kError, "tls_reload_failed",
        {{"listener", watched.target.listener},
         {"trigger", trigger},
         {"error", status.message()},
         {"serving", "the previous certificate"}});
  }
}

void TlsReloader::Poll() {
  while (!stop_.WaitForNotificationWithTimeout(interval_)) {
    absl::MutexLock lock(&mu_);
    for (Watched& watched : watched_) {
      if (FingerprintOf(watched.target.files) != watched.last) Reload(watched, "poll");
    }
  }
}

}  // namespace hive::server

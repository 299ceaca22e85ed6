// server/tls_reloader.h
// Reloads the bridge's TLS certificates without a restart: every target
// (the device endpoint's wss:// context, gRPC's credentials) on request
// (SIGHUP, via BridgeServer::ReloadTls), and each target whose files changed
// when polled every --tls-reload-interval (0: no polling). A change is a
// different inode, size or modification time of any of its files, so a
// Kubernetes Secret update (a symlink swap) counts as well as a copy.
//
// A reload builds the new credentials completely before it installs them;
// one that fails (a garbage PEM, a key of another certificate, a half-copied
// file) logs `event=tls_reload_failed` with the error, which names the flag
// and the file, and the previous certificate keeps serving. A failed pair is
// not retried until its files change again (the poll remembers what it
// tried), so a broken file logs once, not at every poll. A good one logs
// `event=tls_reloaded`.
//
// Reloads run on the caller's thread (SIGHUP: main's signal loop) or on the
// reloader's own poll thread, one at a time; never on an I/O thread.
//
//   TlsReloader reloader({{"wss", {cert, key}, [&] { return source.Reload(); }}}, absl::Minutes(1));
//   reloader.ReloadAll();   // SIGHUP
#pragma once

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace hive::server {

class TlsReloader {
 public:
  struct Target {
    std::string listener;            // "wss" or "grpc", for the log
    std::vector<std::string> files;  // what the poll watches
    std::function<absl::Status()> reload;
  };

  // Starts polling when `interval` is positive and there are targets.
  TlsReloader(std::vector<Target> targets, absl::Duration interval);
  ~TlsReloader();
  TlsReloader(const TlsReloader&) = delete;
  TlsReloader& operator=(const TlsReloader&) = delete;

  // Reloads every target, changed or not (SIGHUP).
  void ReloadAll();

 private:
  // What identifies the contents of a target's files without reading them.
  using Fingerprint = std::vector<std::string>;
  static Fingerprint FingerprintOf(const std::vector<std::string>& files);

  struct Watched {
    Target target;
    Fingerprint last;  // of the files as last loaded or tried
  };

  void Reload(Watched& watched, const char* trigger) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Poll();

  const absl::Duration interval_;
  absl::Mutex mu_;  // one reload at a time
  std::vector<Watched> watched_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  std::thread poller_;
};

}  // namespace hive::server

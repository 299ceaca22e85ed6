// transport/tls_context_source.h
// The TLS context of a listener (the device endpoint's wss://): built once
// from a certificate chain and key, handed to every new connection, and
// replaced whole when the files are reloaded (SIGHUP, --tls-reload-interval;
// server/tls_reloader.h).
//
// A reload reads and checks the new pair (tls_files.h) and builds the new
// context completely before it swaps it in, under a mutex, so a connection
// never sees half a context. A connection keeps the context it started with
// (the shared_ptr), so a reload never disturbs an open connection. A bad new
// pair is refused with an error naming the flag and the file, and the
// context in use keeps serving.
//
//   absl::StatusOr<std::unique_ptr<TlsContextSource>> source =
//       TlsContextSource::Load({"tls-cert", cert_path}, {"tls-key", key_path});   // at start: error stops it
//   server.set_tls_init_handler([&](auto) { return (*source)->current(); });       // any thread
//   absl::Status reloaded = (*source)->Reload();                                    // any thread
#pragma once

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "asio/ssl/context.hpp"
#include "transport/tls_files.h"

namespace hive::transport {

class TlsContextSource {
 public:
  // Reads the files and builds the first context; an error names the flag
  // and the file.
  static absl::StatusOr<std::unique_ptr<TlsContextSource>> Load(FlagFile certificate, FlagFile key);

  // The context for a new connection. Thread-safe.
  std::shared_ptr<asio::ssl::context> current() const;

  // Reads the files again and, when the pair is good, makes it the context
  // for new connections. Otherwise returns why and keeps the current one.
  // Thread-safe; concurrent reloads each install a complete context.
  absl::Status Reload();

  const FlagFile& certificate() const { return certificate_; }
  const FlagFile& key() const { return key_; }

 private:
  TlsContextSource(FlagFile certificate, FlagFile key, std::shared_ptr<asio::ssl::context> context)
      : certificate_(std::move(certificate)), key_(std::move(key)), context_(std::move(context)) {}

  // A complete server context from the files, or why not.
  static absl::StatusOr<std::shared_ptr<asio::ssl::context>> Build(const FlagFile& certificate, const FlagFile& key);

  const FlagFile certificate_;
  const FlagFile key_;
  mutable absl::Mutex mu_;
  std::shared_ptr<asio::ssl::context> context_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hive::transport

// transport/published_file.h
// An in-memory file that code we do not control reads by path (gRPC's
// FileWatcherCertificateProvider), whose contents are replaced atomically:
// a reader opens either the old contents or the new, never a mix or a
// half-written file. Nothing touches the disk (a private key stays in
// memory) and nothing is left behind when the process ends.
//
// It is an anonymous memory file (memfd) held open at a fixed descriptor
// number; path() is /proc/self/fd/<that number>. Publish() writes a new
// memory file and moves it onto that number with dup2, which is atomic.
// Each version gets a modification time a whole second after the last one,
// because gRPC compares the seconds of st_mtime before and after it reads to
// notice a file that changed under it.
//
//   absl::StatusOr<std::unique_ptr<PublishedFile>> file = PublishedFile::Create("grpc-identity");
//   HIVE_RETURN_IF_ERROR((*file)->Publish(pem));
//   FileWatcherCertificateProvider provider((*file)->path(), (*file)->path(), 1);
#pragma once

#include <ctime>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace hive::transport {

class PublishedFile {
 public:
  // An empty file; `name` shows in /proc/self/fd for whoever debugs.
  static absl::StatusOr<std::unique_ptr<PublishedFile>> Create(absl::string_view name);
  ~PublishedFile();
  PublishedFile(const PublishedFile&) = delete;
  PublishedFile& operator=(const PublishedFile&) = delete;

  // Where readers open it.
  const std::string& path() const { return path_; }

  // Replaces the contents at once. Thread-safe.
  absl::Status Publish(absl::string_view contents);

 private:
  PublishedFile(std::string name, int fd);

  const std::string name_;
  const int fd_;
  const std::string path_;
  absl::Mutex mu_;
  time_t last_mtime_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace hive::transport

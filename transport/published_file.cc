#include "transport/published_file.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace hive::transport {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

absl::StatusOr<int> NewMemoryFile(const std::string& name) {
  const int fd = memfd_create(name.c_str(), MFD_CLOEXEC);
  if (fd < 0) return Errno(absl::StrCat("cannot create the in-memory file ", name));
  return fd;
}

absl::Status WriteAll(int fd, absl::string_view contents) {
  while (!contents.empty()) {
    const ssize_t written = write(fd, contents.data(), contents.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return Errno("cannot write an in-memory file");
    contents.remove_prefix(static_cast<size_t>(written));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PublishedFile>> PublishedFile::Create(absl::string_view name) {
  absl::StatusOr<int> fd = NewMemoryFile(std::string(name));
  if (!fd.ok()) return fd.status();
  return std::unique_ptr<PublishedFile>(new PublishedFile(std::string(name), *fd));
}

PublishedFile::PublishedFile(std::string name, int fd)
    : name_(std::move(name)), fd_(fd), path_(absl::StrCat("/proc/self/fd/", fd)) {}

PublishedFile::~PublishedFile() { close(fd_); }

absl::Status PublishedFile::Publish(absl::string_view contents) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<int> next = NewMemoryFile(name_);
  if (!next.ok()) return next.status();
  absl::Status status = WriteAll(*next, contents);
  if (status.ok()) {
    // A whole second after the previous version, so a reader comparing
    // st_mtime in seconds around its read always sees the change.
    const time_t mtime = std::max(time(nullptr), last_mtime_ + 1);
    const timespec times[2] = {{mtime, 0}, {mtime, 0}};
    if (futimens(*next, times) != 0) {
      status = Errno("cannot date an in-memory file");
    } else if (dup2(*next, fd_) < 0) {
      status = Errno("cannot replace an in-memory file");
    } else {
      last_mtime_ = mtime;
    }
  }
  close(*next);
  return status;
}

}  // namespace hive::transport

// server/proc_file.h
// Reads a kernel table under /proc (/proc/self/stat, /proc/net/tcp, ...)
// whole. Such a file reports size 0 and is generated as it is read, so it is
// streamed to its end rather than sized first.
//
//   std::optional<std::string> stat = ReadProcFile("/proc/self/stat");
#pragma once

#include <optional>
#include <string>

namespace hive {

// The file's text, or nullopt when it cannot be opened (no /proc, as in a
// bare chroot, or no such table on this kernel).
std::optional<std::string> ReadProcFile(const char* path);

}  // namespace hive

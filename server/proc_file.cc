#include "server/proc_file.h"

#include <fstream>
#include <sstream>

namespace hive {

std::optional<std::string> ReadProcFile(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace hive

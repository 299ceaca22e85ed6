#include "server/console_assets.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace hive::server {

bool IsConsolePath(absl::string_view path) {
  return path == kConsolePath || absl::StartsWith(path, absl::StrCat(kConsolePath, "/"));
}

std::string ContentTypeOf(absl::string_view name) {
  // Scripts as text/javascript (RFC 9239); the charset matters for the
  // non-ASCII characters the page shows.
  static constexpr std::pair<absl::string_view, absl::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".json", "application/json"},
  };
  for (const auto& [extension, type] : kTypes) {
    if (absl::EndsWith(name, extension)) return std::string(type);
  }
  return "application/octet-stream";
}

ConsoleAnswer AnswerConsole(absl::string_view path) {
  ConsoleAnswer answer;
  if (path == kConsolePath) {
    answer.status = 301;
    answer.location = absl::StrCat(kConsolePath, "/");
    return answer;
  }
  absl::string_view name = path.substr(std::min(path.size(), kConsolePath.size() + 1));
  if (name.empty()) name = "index.html";
  const absl::Span<const EmbeddedFile> files = ConsoleFiles();
  const auto found = std::lower_bound(files.begin(), files.end(), name,
                                      [](const EmbeddedFile& file, absl::string_view key) { return file.name < key; });
  if (found == files.end() || found->name != name) return answer;
  answer.status = 200;
  answer.content_type = ContentTypeOf(name);
  answer.body = found->bytes;
  return answer;
}

}  // namespace hive::server

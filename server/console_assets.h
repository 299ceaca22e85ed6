// server/console_assets.h
// The operators' web console (docs/protocol.md#web-console): the files of
// server/console/, compiled into the binary by cmake/embed_files.cmake (no
// file is read at run time), and what the HTTP gateway answers for a GET of a
// path under /console. Pure, so unit tests cover every path without a server.
//
//   ConsoleAnswer answer = AnswerConsole("/console/console.js");
//   // answer.status == 200, answer.content_type == "text/javascript; charset=utf-8"
//   for (const auto& [name, value] : kConsoleHeaders) res.set_header(name, value);
//
// /console redirects to /console/ (so the page's relative URLs resolve under
// it), /console/ is index.html, an unknown file is 404.
#pragma once

#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace hive::server {

// One embedded file: its path under server/console/ and its bytes.
struct EmbeddedFile {
  absl::string_view name;
  absl::string_view bytes;
};

// Every console file, sorted by name (generated at build time).
absl::Span<const EmbeddedFile> ConsoleFiles();

// The path prefix the console is served under (the gateway's port only).
inline constexpr absl::string_view kConsolePath = "/console";

// Headers of every console answer. The page loads only its own files
// (the CSP forbids inline script and style, other origins, and framing), so a
// script injected into a device id or a twin field cannot run, and no
// Referer carries the bridge's address elsewhere.
inline constexpr std::pair<absl::string_view, absl::string_view> kConsoleHeaders[] = {
    {"Content-Security-Policy", "default-src 'self'"},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
    {"X-Frame-Options", "DENY"},
    // Revalidated each time: a new binary's console replaces the old at once.
    {"Cache-Control", "no-cache"},
};

struct ConsoleAnswer {
  int status = 404;
  std::string content_type;
  // The file (points into the binary's data) or, for 404, empty.
  absl::string_view body;
  // For a redirect (301): where to.
  std::string location;
};

// True when `path` (decoded, without the query) is the console's: /console
// or below it.
bool IsConsolePath(absl::string_view path);

// The answer to a GET of `path`, a console path.
ConsoleAnswer AnswerConsole(absl::string_view path);

// The Content-Type of a file by its extension (application/octet-stream for
// an unknown one).
std::string ContentTypeOf(absl::string_view name);

}  // namespace hive::server

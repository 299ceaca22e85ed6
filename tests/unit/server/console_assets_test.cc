// The web console's embedded files and what a GET under /console answers:
// the redirect to /console/, index.html for the directory, each file with
// its type, 404 for anything not embedded (no path climbs out: nothing is
// read from disk).
#include "server/console_assets.h"

#include "gtest/gtest.h"

namespace hive::server {
namespace {

TEST(ConsoleAssets, EmbedsThePageItsScriptAndStyleSortedByName) {
  absl::Span<const EmbeddedFile> files = ConsoleFiles();
  ASSERT_GE(files.size(), 3u);
  for (size_t i = 1; i < files.size(); ++i) EXPECT_LT(files[i - 1].name, files[i].name);
  for (const char* name : {"index.html", "console.js", "console.css"}) {
    const ConsoleAnswer answer = AnswerConsole(std::string("/console/") + name);
    EXPECT_EQ(answer.status, 200) << name;
    EXPECT_FALSE(answer.body.empty()) << name;
  }
}

TEST(ConsoleAssets, TheBarePathRedirectsAndTheDirectoryIsIndexHtml) {
  const ConsoleAnswer bare = AnswerConsole("/console");
  EXPECT_EQ(bare.status, 301);
  EXPECT_EQ(bare.location, "/console/");

  const ConsoleAnswer index = AnswerConsole("/console/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(index.body, AnswerConsole("/console/index.html").body);
  EXPECT_NE(index.body.find("<!doctype html>"), absl::string_view::npos);
}

TEST(ConsoleAssets, EachFileHasTheTypeOfItsExtension) {
  EXPECT_EQ(AnswerConsole("/console/console.js").content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(AnswerConsole("/console/console.css").content_type, "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeOf("x.svg"), "image/svg+xml");
  EXPECT_EQ(ContentTypeOf("x.bin"), "application/octet-stream");
  EXPECT_EQ(ContentTypeOf("js"), "application/octet-stream");
}

TEST(ConsoleAssets, WhatIsNotEmbeddedIsNotFound) {
  for (const char* path : {"/console/nope", "/console/../server/main.cc", "/console/index.html/",
                           "/console//index.html", "/console/INDEX.HTML"}) {
    const ConsoleAnswer answer = AnswerConsole(path);
    EXPECT_EQ(answer.status, 404) << path;
    EXPECT_TRUE(answer.body.empty()) << path;
  }
}

TEST(ConsoleAssets, OnlyTheConsoleAndWhatIsBelowItAreConsolePaths) {
  EXPECT_TRUE(IsConsolePath("/console"));
  EXPECT_TRUE(IsConsolePath("/console/"));
  EXPECT_TRUE(IsConsolePath("/console/console.js"));
  EXPECT_FALSE(IsConsolePath("/consoles"));
  EXPECT_FALSE(IsConsolePath("/api/v1/devices"));
  EXPECT_FALSE(IsConsolePath("/"));
}

TEST(ConsoleAssets, EveryAnswerCarriesTheSecurityHeaders) {
  bool csp = false;
  for (const auto& [name, value] : kConsoleHeaders) {
    if (name == "Content-Security-Policy") csp = value == "default-src 'self'";
  }
  EXPECT_TRUE(csp);
}

}  // namespace
}  // namespace hive::server

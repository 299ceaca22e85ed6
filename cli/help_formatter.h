// cli/help_formatter.h
// The --help layout of every executable: a usage line, the program's
// description, then one entry per option,
//
//   --ping-interval=DURATION     WebSocket ping period; each pong is a device-alive
//                                event [default: 30s] [env: HIVEBRIDGE_PING_INTERVAL]
//
// wrapped so that no line passes a width (100 columns). CLI11 2.1's own
// formatter does not wrap descriptions, hence this subclass. "[default: X]"
// and "[env: NAME]" never break inside, so scripts (tests/helm/support.mjs)
// can read them back. cli::Flags installs it; use it directly only for a
// CLI::App built without cli::Flags:
//
//   app.formatter(std::make_shared<HelpFormatter>("Usage: tool [--OPTION=VALUE]...", describe));
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace hive::cli {

// What one option's entry shows.
struct HelpEntry {
  std::string left;          // "--name=METAVAR", "--[no-]name", "--help, -h"
  std::string text;          // the description
  std::string default_text;  // empty: no [default: ...]
  std::string env;           // empty: no [env: ...]
};

// Wraps `text` to `width` columns at spaces. Each line of `text` wraps on its
// own; continuation lines keep the line's indentation plus `hanging` spaces.
// A word longer than the width stays whole on its own line.
std::string WrapText(const std::string& text, size_t width, size_t hanging = 4);

class HelpFormatter : public CLI::Formatter {
 public:
  using Describe = std::function<HelpEntry(const CLI::Option*)>;

  HelpFormatter(std::string usage, Describe describe, size_t width = 100);

  std::string make_help(const CLI::App* app, std::string name, CLI::AppFormatMode mode) const override;
  std::string make_option(const CLI::Option* option, bool is_positional) const override;

 private:
  std::string FormatEntry(const HelpEntry& entry, size_t column) const;

  std::string usage_;
  Describe describe_;
  size_t width_;
  mutable size_t column_ = 30;  // set by make_help from the widest option
};

}  // namespace hive::cli

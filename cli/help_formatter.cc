#include "cli/help_formatter.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace hive::cli {
namespace {

// The widest left column; longer option names put their text on the next line.
constexpr size_t kMaxColumn = 40;
constexpr size_t kIndent = 2;
constexpr size_t kGap = 2;

// Greedy fill of `words` into lines of at most `width`, each line after the
// first starting with `indent`.
std::vector<std::string> Fill(const std::vector<std::string>& words, size_t first_width, size_t width) {
  std::vector<std::string> lines;
  std::string line;
  for (const std::string& word : words) {
    const size_t limit = lines.empty() ? first_width : width;
    if (!line.empty() && line.size() + 1 + word.size() > limit) {
      lines.push_back(std::move(line));
      line.clear();
    }
    if (!line.empty()) line += ' ';
    line += word;
  }
  if (!line.empty()) lines.push_back(std::move(line));
  return lines;
}

std::vector<std::string> Words(absl::string_view text) {
  std::vector<std::string> words;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) words.emplace_back(word);
  return words;
}

}  // namespace

std::string WrapText(const std::string& text, size_t width, size_t hanging) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.size() <= width) {
      absl::StrAppend(&out, line, "\n");
      continue;
    }
    const size_t indent = line.find_first_not_of(' ');
    const std::string first_pad(indent, ' ');
    const std::string pad(indent + hanging, ' ');
    const std::vector<std::string> lines =
        Fill(Words(line), width > indent ? width - indent : 1, width > pad.size() ? width - pad.size() : 1);
    for (size_t i = 0; i < lines.size(); ++i) absl::StrAppend(&out, i == 0 ? first_pad : pad, lines[i], "\n");
  }
  if (!out.empty()) out.pop_back();  // the input's own line structure, no extra newline
  return out;
}

HelpFormatter::HelpFormatter(std::string usage, Describe describe, size_t width)
    : usage_(std::move(usage)), describe_(std::move(describe)), width_(width) {}

std::string HelpFormatter::make_help(const CLI::App* app, std::string, CLI::AppFormatMode) const {
  const std::vector<const CLI::Option*> options =
      app->get_options([](const CLI::Option* option) { return option->nonpositional(); });
  size_t left = 0;
  for (const CLI::Option* option : options) left = std::max(left, describe_(option).left.size());
  column_ = std::min(kIndent + left + kGap, kMaxColumn);

  std::string help = WrapText(usage_, width_);
  help += "\n";
  if (!app->get_description().empty()) absl::StrAppend(&help, WrapText(app->get_description(), width_), "\n");
  help += "\nOptions:\n";
  for (const CLI::Option* option : options) help += make_option(option, false);
  if (!app->get_footer().empty()) absl::StrAppend(&help, "\n", WrapText(app->get_footer(), width_), "\n");
  return help;
}

std::string HelpFormatter::make_option(const CLI::Option* option, bool) const {
  return FormatEntry(describe_(option), column_);
}

std::string HelpFormatter::FormatEntry(const HelpEntry& entry, size_t column) const {
  std::vector<std::string> words = Words(entry.text);
  // The tags are single words, so they never break inside.
  if (!entry.default_text.empty()) words.push_back(absl::StrCat("[default: ", entry.default_text, "]"));
  if (!entry.env.empty()) words.push_back(absl::StrCat("[env: ", entry.env, "]"));

  const std::string head = absl::StrCat(std::string(kIndent, ' '), entry.left);
  const std::string pad(column, ' ');
  const size_t width = width_ > column ? width_ - column : 1;
  std::string out;
  std::vector<std::string> lines;
  if (head.size() + kGap <= column) {
    lines = Fill(words, width, width);
    out = head + std::string(column - head.size(), ' ');
    out += lines.empty() ? "" : lines[0];
    out += "\n";
    for (size_t i = 1; i < lines.size(); ++i) absl::StrAppend(&out, pad, lines[i], "\n");
  } else {
    out = head + "\n";
    for (const std::string& line : Fill(words, width, width)) absl::StrAppend(&out, pad, line, "\n");
  }
  // Trailing spaces of an entry without text.
  while (out.size() >= 2 && out[out.size() - 2] == ' ') out.erase(out.size() - 2, 1);
  return out;
}

}  // namespace hive::cli

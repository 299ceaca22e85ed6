// cli/flags.h
// The flags of one executable: a typed value per flag, bound to a field of the
// program's config struct, with an environment-variable fallback, and a
// --help (cli/help_formatter.h) that lists every flag with its default and
// variable in 100 columns. Built on CLI11, which tokenizes the command line;
// values are parsed here (cli/values.h), so every executable of the
// repository spells durations, sizes and numbers the same way.
//
// Usage (one Flags per parse, bound to a fresh config struct):
//
//   struct Options { absl::Duration timeout = absl::Seconds(10); size_t queue = 256; };
//
//   absl::StatusOr<Options> ParseOptions(int argc, const char* const* argv,
//                                        const char* const* environ) {
//     Options options;
//     hive::cli::Flags flags("hive-tool", "HIVE_TOOL_");  // env prefix; "" = no variables
//     flags.SetDescription("Does one thing well.");
//     flags.SetVersion("hive-tool 1.0");                  // optional: adds --version
//     flags.AddDuration("timeout", &options.timeout, absl::Milliseconds(100), absl::Minutes(10),
//                       "how long to wait for the bridge");     // --timeout=30s, HIVE_TOOL_TIMEOUT=30s
//     flags.AddInteger<size_t>("queue", &options.queue, 1, 65536, "frames queued per device");
//     if (absl::Status status = flags.Parse(argc, argv, environ); !status.ok()) return status;
//     return options;
//   }
//
//   // main(): CANCELLED carries --help or --version text for stdout (exit 0);
//   // INVALID_ARGUMENT names the flag or variable and the problem (exit 2):
//   //   "--timeout: expected a duration such as 30s, 500ms or 1m30s, got \"soon\""
//   //   "HIVE_TOOL_QUEUE: must be between 1 and 65536, got 0"
//
// Rules every executable gets:
// - --name=VALUE and --name VALUE; a repeated flag keeps its last value;
//   switches are --name, --no-name, --name=true|false.
// - A flag given on the command line wins over its variable; a variable is
//   read only when its flag is absent, so a bad variable that a flag
//   overrides cannot stop the program. Unknown variables are ignored.
// - Unknown flags and stray arguments are errors naming them.
// - --help and -h yield CANCELLED with the help text, wherever they appear.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cli/values.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace hive::cli {

// Stores a flag's value from its text; an error says what is wrong with the
// text, without the flag's name (Flags adds where the text came from).
using Setter = std::function<absl::Status(absl::string_view text)>;

// Vets a string flag's value before it is stored.
using Validator = std::function<absl::Status(absl::string_view text)>;

// One flag, as the Add* methods of Flags return it, so that a caller can
// adjust what --help shows or which variable is read.
class Flag {
 public:
  const std::string& name() const { return name_; }        // without "--"
  const std::string& metavar() const { return metavar_; }  // empty for a switch
  const std::string& help() const { return help_; }
  const std::string& default_text() const { return default_text_; }
  const std::string& env() const { return env_; }  // empty: none
  bool is_switch() const { return is_switch_; }

  // What --help shows as the default (e.g. "(none)" for an empty path).
  Flag& DefaultText(std::string text) {
    default_text_ = std::move(text);
    return *this;
  }
  // Reads this variable instead of PREFIX_NAME; "" reads none.
  Flag& Env(std::string name) {
    env_ = std::move(name);
    return *this;
  }

 private:
  friend class Flags;
  std::string name_, metavar_, help_, default_text_, env_;
  bool is_switch_ = false;
  Setter set_;
  bool from_command_line_ = false;
  bool from_env_ = false;
};

class Flags {
 public:
  // `program` names the executable in usage and messages; `env_prefix`
  // ("HIVEBRIDGE_", "HIVE_SIM_") makes each flag's variable: --max-batch reads
  // HIVEBRIDGE_MAX_BATCH. An empty prefix reads no variables.
  Flags(std::string program, std::string env_prefix);
  ~Flags();
  Flags(const Flags&) = delete;
  Flags& operator=(const Flags&) = delete;

  // Help text after the usage line; lines longer than 100 columns wrap.
  void SetDescription(std::string text);
  // The usage line; default "Usage: PROGRAM [--OPTION=VALUE]...".
  void SetUsage(std::string text);
  // Adds --version, which yields CANCELLED with `text`.
  void SetVersion(std::string text);
  // Also accept --foo_bar for --foo-bar (call before adding flags).
  void AcceptUnderscores() { accept_underscores_ = true; }

  // The general form: `set` parses and stores; --help shows `default_text`.
  Flag& AddValue(absl::string_view name, absl::string_view metavar, Setter set, std::string default_text,
                 absl::string_view help);

  // Any text (empty refused); `validate`, when given, vets it first.
  Flag& AddString(absl::string_view name, std::string* target, absl::string_view metavar, absl::string_view help,
                  const Validator& validate = nullptr);

  // absl::ParseDuration syntax (cli/values.h), within [min, max].
  Flag& AddDuration(absl::string_view name, absl::Duration* target, absl::Duration min, absl::Duration max,
                    absl::string_view help);

  // A decimal integer within [min, max]; T is any integral type.
  template <typename T>
  Flag& AddInteger(absl::string_view name, T* target, T min, T max, absl::string_view help) {
    static_assert(std::is_integral_v<T>);
    return AddValue(
        name, "N",
        [target, min, max](absl::string_view text) -> absl::Status {
          absl::StatusOr<int64_t> value = ParseInteger(text);
          if constexpr (std::is_unsigned_v<T> && sizeof(T) == sizeof(uint64_t)) {
            if (!value.ok()) {  // perhaps above INT64_MAX
              absl::StatusOr<uint64_t> big = ParseUnsigned(text);
              if (!big.ok()) return value.status();
              if (*big < min || *big > max) return OutOfRange(absl::StrCat(min), absl::StrCat(max), text);
              *target = static_cast<T>(*big);
              return absl::OkStatus();
            }
          }
          if (!value.ok()) return value.status();
          const bool in_range = std::is_unsigned_v<T>
                                    ? *value >= 0 && static_cast<uint64_t>(*value) >= static_cast<uint64_t>(min) &&
                                          static_cast<uint64_t>(*value) <= static_cast<uint64_t>(max)
                                    : *value >= static_cast<int64_t>(min) && *value <= static_cast<int64_t>(max);
          if (!in_range) return OutOfRange(absl::StrCat(min), absl::StrCat(max), text);
          *target = static_cast<T>(*value);
          return absl::OkStatus();
        },
        absl::StrCat(*target), help);
  }

  // A byte count, plain or with KiB or MiB (cli/values.h), within [min, max].
  template <typename T>
  Flag& AddByteSize(absl::string_view name, T* target, int64_t min, int64_t max, absl::string_view help) {
    static_assert(std::is_integral_v<T>);
    return AddValue(
        name, "BYTES",
        [target, min, max](absl::string_view text) -> absl::Status {
          absl::StatusOr<int64_t> value = ParseByteSize(text);
          if (!value.ok()) return value.status();
          if (*value < min || *value > max) return OutOfRange(FormatByteSize(min), FormatByteSize(max), text);
          *target = static_cast<T>(*value);
          return absl::OkStatus();
        },
        FormatByteSize(static_cast<int64_t>(*target)), help);
  }

  // A finite decimal number within [min, max].
  Flag& AddNumber(absl::string_view name, double* target, double min, double max, absl::string_view help);

  // A switch: --name, --no-name, --name=true|false; the variable takes
  // true or false.
  Flag& AddSwitch(absl::string_view name, bool* target, absl::string_view help);

  // Comma-separated values (empty items refused); `validate` vets each item.
  Flag& AddList(absl::string_view name, std::vector<std::string>* target, absl::string_view metavar,
                absl::string_view help, const Validator& validate = nullptr);

  // One of a few words, each naming a value of T; metavar is "a|b|c".
  template <typename T>
  Flag& AddChoice(absl::string_view name, T* target, std::vector<std::pair<std::string, T>> choices,
                  absl::string_view help) {
    std::vector<std::string> words;
    std::string current;
    for (const auto& [word, value] : choices) {
      words.push_back(word);
      if (value == *target) current = word;
    }
    return AddValue(
        name, absl::StrJoin(words, "|"),
        [target, choices, words](absl::string_view text) -> absl::Status {
          for (const auto& [word, value] : choices) {
            if (word == text) {
              *target = value;
              return absl::OkStatus();
            }
          }
          return absl::InvalidArgumentError(
              absl::StrCat("expected one of ", absl::StrJoin(words, ", "), ", got \"", text, "\""));
        },
        current, help);
  }

  // Parses argv (argv[0] is the program) and then, for each flag not on the
  // command line, its variable in `environ` (a null-terminated "NAME=value"
  // array as ::environ; null reads none). OK; CANCELLED with the --help or
  // --version text; or INVALID_ARGUMENT naming the flag or variable.
  absl::Status Parse(int argc, const char* const* argv, const char* const* environ);

  // Whether the flag was set, on the command line or by its variable.
  bool Given(absl::string_view name) const;

  // Every flag, in the order added.
  std::vector<const Flag*> flags() const;

  // The --help text: usage, description, every flag with its default and
  // variable; no line longer than kHelpWidth.
  std::string Help() const;

  // The underlying CLI11 app, for what this class does not cover.
  CLI::App& app() { return *app_; }

  static constexpr size_t kHelpWidth = 100;

  // "must be between MIN and MAX, got TEXT".
  static absl::Status OutOfRange(absl::string_view min, absl::string_view max, absl::string_view text);

 private:
  Flag& Add(absl::string_view name, absl::string_view metavar, Setter set, std::string default_text,
            absl::string_view help, bool is_switch);
  void InstallFormatter();
  Flag* Find(absl::string_view name);  // by name, underscore spelling or --no- form
  const Flag* FindByOption(const CLI::Option* option) const;

  std::string program_;
  std::string env_prefix_;
  std::string usage_;
  std::string version_;
  bool accept_underscores_ = false;
  std::unique_ptr<CLI::App> app_;
  std::vector<std::unique_ptr<Flag>> flags_;
  std::vector<std::pair<const CLI::Option*, Flag*>> by_option_;
};

}  // namespace hive::cli

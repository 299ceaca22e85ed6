#include "cli/flags.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <exception>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/help_formatter.h"

namespace hive::cli {
namespace {

// A value the Setter refused, on its way out of CLI11's parse().
class ValueError : public CLI::ParseError {
 public:
  explicit ValueError(std::string message) : CLI::ParseError("ValueError", std::move(message), 2) {}
};

std::string Quoted(absl::string_view text) { return absl::StrCat("\"", text, "\""); }

std::string EnvName(absl::string_view prefix, absl::string_view name) {
  std::string env = absl::StrCat(prefix, name);
  absl::AsciiStrToUpper(&env);
  std::replace(env.begin(), env.end(), '-', '_');
  return env;
}

std::optional<absl::string_view> GetEnv(const char* const* environ, absl::string_view name) {
  for (const char* const* entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    absl::string_view text = *entry;
    if (absl::ConsumePrefix(&text, name) && absl::ConsumePrefix(&text, "=")) return text;
  }
  return std::nullopt;
}

}  // namespace

Flags::Flags(std::string program, std::string env_prefix)
    : program_(std::move(program)),
      env_prefix_(std::move(env_prefix)),
      usage_(absl::StrCat("Usage: ", program_, " [--OPTION=VALUE]...")),
      app_(std::make_unique<CLI::App>("", program_)) {
  app_->allow_extras();  // reported by Parse, with the flag's name
  app_->set_help_flag();
  app_->add_flag("-h,--help", "print this help and exit");
  InstallFormatter();
}

Flags::~Flags() = default;

void Flags::SetDescription(std::string text) { app_->description(std::move(text)); }

void Flags::SetUsage(std::string text) {
  usage_ = std::move(text);
  InstallFormatter();
}

void Flags::InstallFormatter() {
  app_->formatter(std::make_shared<HelpFormatter>(
      usage_,
      [this](const CLI::Option* option) -> HelpEntry {
        if (const Flag* flag = FindByOption(option)) {
          const std::string left = flag->is_switch() ? absl::StrCat("--[no-]", flag->name())
                                                     : absl::StrCat("--", flag->name(), "=", flag->metavar());
          return {left, flag->help(), flag->default_text(), flag->env()};
        }
        std::vector<std::string> names;
        for (const std::string& name : option->get_lnames()) names.push_back(absl::StrCat("--", name));
        for (const std::string& name : option->get_snames()) names.push_back(absl::StrCat("-", name));
        return {absl::StrJoin(names, ", "), option->get_description(), "", ""};
      },
      kHelpWidth));
}

void Flags::SetVersion(std::string text) {
  if (version_.empty()) app_->add_flag("--version", "print the version and exit");
  version_ = std::move(text);
}

absl::Status Flags::OutOfRange(absl::string_view min, absl::string_view max, absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat("must be between ", min, " and ", max, ", got ", text));
}

Flag& Flags::Add(absl::string_view name, absl::string_view metavar, Setter set, std::string default_text,
                 absl::string_view help, bool is_switch) {
  auto flag = std::make_unique<Flag>();
  flag->name_ = std::string(name);
  flag->metavar_ = std::string(metavar);
  flag->help_ = std::string(help);
  flag->default_text_ = std::move(default_text);
  flag->env_ = env_prefix_.empty() ? "" : EnvName(env_prefix_, name);
  flag->is_switch_ = is_switch;
  flag->set_ = std::move(set);
  Flag* raw = flag.get();
  flags_.push_back(std::move(flag));

  std::string names = absl::StrCat("--", name);
  std::string underscored(name);
  std::replace(underscored.begin(), underscored.end(), '-', '_');
  if (accept_underscores_ && underscored != name) absl::StrAppend(&names, ",--", underscored);

  // The setter's error, named for the flag; CLI11 passes it out of parse().
  const auto store = [raw](absl::string_view text) {
    if (absl::Status status = raw->set_(text); !status.ok()) {
      throw ValueError(absl::StrCat("--", raw->name_, ": ", status.message()));
    }
    raw->from_command_line_ = true;
  };
  CLI::Option* option = nullptr;
  if (is_switch) {
    absl::StrAppend(&names, ",!--no-", name);
    option = app_->add_flag_function(
        names, [store](int64_t count) { store(count > 0 ? "true" : "false"); }, std::string(help));
  } else {
    option = app_->add_option(
        names,
        [store](const CLI::results_t& results) {
          store(results.back());
          return true;
        },
        std::string(help));
    option->type_name(std::string(metavar))->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  }
  by_option_.emplace_back(option, raw);
  return *raw;
}

Flag& Flags::AddValue(absl::string_view name, absl::string_view metavar, Setter set, std::string default_text,
                      absl::string_view help) {
  return Add(name, metavar, std::move(set), std::move(default_text), help, /*is_switch=*/false);
}

Flag& Flags::AddString(absl::string_view name, std::string* target, absl::string_view metavar, absl::string_view help,
                       const Validator& validate) {
  return AddValue(
      name, metavar,
      [target, validate](absl::string_view text) -> absl::Status {
        if (validate) {
          if (absl::Status status = validate(text); !status.ok()) return status;
        } else if (text.empty()) {
          return absl::InvalidArgumentError("expected a value, got \"\"");
        }
        *target = std::string(text);
        return absl::OkStatus();
      },
      *target, help);
}

Flag& Flags::AddDuration(absl::string_view name, absl::Duration* target, absl::Duration min, absl::Duration max,
                         absl::string_view help) {
  return AddValue(
      name, "DURATION",
      [target, min, max](absl::string_view text) -> absl::Status {
        absl::StatusOr<absl::Duration> value = ParseDurationValue(text);
        if (!value.ok()) return value.status();
        if (*value < min || *value > max) return OutOfRange(FormatDurationValue(min), FormatDurationValue(max), text);
        *target = *value;
        return absl::OkStatus();
      },
      FormatDurationValue(*target), help);
}

Flag& Flags::AddNumber(absl::string_view name, double* target, double min, double max, absl::string_view help) {
  return AddValue(
      name, "R",
      [target, min, max](absl::string_view text) -> absl::Status {
        absl::StatusOr<double> value = ParseNumber(text);
        if (!value.ok()) return value.status();
        if (*value < min || *value > max) return OutOfRange(absl::StrCat(min), absl::StrCat(max), text);
        *target = *value;
        return absl::OkStatus();
      },
      absl::StrCat(*target), help);
}

Flag& Flags::AddSwitch(absl::string_view name, bool* target, absl::string_view help) {
  return Add(
      name, "",
      [target](absl::string_view text) -> absl::Status {
        absl::StatusOr<bool> value = ParseBool(text);
        if (!value.ok()) return value.status();
        *target = *value;
        return absl::OkStatus();
      },
      *target ? "true" : "false", help, /*is_switch=*/true);
}

Flag& Flags::AddList(absl::string_view name, std::vector<std::string>* target, absl::string_view metavar,
                     absl::string_view help, const Validator& validate) {
  return AddValue(
      name, metavar,
      [target, validate](absl::string_view text) -> absl::Status {
        std::vector<std::string> items = absl::StrSplit(text, ',');
        for (const std::string& item : items) {
          if (item.empty()) return absl::InvalidArgumentError(absl::StrCat("empty item in ", Quoted(text)));
          if (validate) {
            if (absl::Status status = validate(item); !status.ok()) return status;
          }
        }
        *target = std::move(items);
        return absl::OkStatus();
      },
      absl::StrJoin(*target, ","), help);
}

Flag* Flags::Find(absl::string_view name) {
  for (const std::unique_ptr<Flag>& flag : flags_) {
    std::string underscored = flag->name_;
    std::replace(underscored.begin(), underscored.end(), '-', '_');
    if (flag->name_ == name || (accept_underscores_ && underscored == name)) return flag.get();
    if (flag->is_switch_ && absl::StartsWith(name, "no-") && flag->name_ == name.substr(3)) return flag.get();
  }
  return nullptr;
}

const Flag* Flags::FindByOption(const CLI::Option* option) const {
  for (const auto& [known, flag] : by_option_) {
    if (known == option) return flag;
  }
  return nullptr;
}

absl::Status Flags::Parse(int argc, const char* const* argv, const char* const* environ) {
  // Before CLI11: --help and --version wherever they are, and the two errors
  // CLI11 reports poorly: a flag whose value is missing (CLI11 would take the
  // next flag as the value) and a switch given a word that is not a boolean.
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") return absl::CancelledError(Help());
    if (arg == "--version" && !version_.empty()) return absl::CancelledError(version_);
    if (!absl::StartsWith(arg, "--") || arg == "--") continue;
    const size_t equals = arg.find('=');
    const absl::string_view name = arg.substr(2, equals == absl::string_view::npos ? arg.npos : equals - 2);
    Flag* flag = Find(name);
    if (flag == nullptr) continue;  // CLI11 leaves it in remaining(): reported below
    if (flag->is_switch_) {
      if (equals == absl::string_view::npos) continue;
      if (absl::StatusOr<bool> value = ParseBool(arg.substr(equals + 1)); !value.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("--", flag->name_, ": ", value.status().message()));
      }
    } else if (equals == absl::string_view::npos) {
      if (i + 1 >= argc || absl::StartsWith(argv[i + 1], "--")) {
        return absl::InvalidArgumentError(absl::StrCat("--", flag->name_, ": missing value"));
      }
      ++i;
    }
  }

  try {
    app_->parse(argc, argv);
  } catch (const ValueError& error) {
    return absl::InvalidArgumentError(error.what());
  } catch (const CLI::ParseError& error) {
    return absl::InvalidArgumentError(absl::StrCat(error.what(), "; see --help"));
  } catch (const std::exception& error) {
    return absl::InvalidArgumentError(absl::StrCat(error.what(), "; see --help"));
  }
  if (const std::vector<std::string> rest = app_->remaining(); !rest.empty()) {
    const absl::string_view arg = rest.front();
    if (absl::StartsWith(arg, "--")) {
      return absl::InvalidArgumentError(absl::StrCat(arg.substr(0, arg.find('=')), ": unknown flag; see --help"));
    }
    return absl::InvalidArgumentError(absl::StrCat("unexpected argument ", Quoted(arg), "; see --help"));
  }

  for (const std::unique_ptr<Flag>& flag : flags_) {
    if (flag->from_command_line_ || flag->env_.empty()) continue;
    const std::optional<absl::string_view> text = GetEnv(environ, flag->env_);
    if (!text.has_value()) continue;
    if (absl::Status status = flag->set_(*text); !status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(flag->env_, ": ", status.message()));
    }
    flag->from_env_ = true;
  }
  return absl::OkStatus();
}

bool Flags::Given(absl::string_view name) const {
  for (const std::unique_ptr<Flag>& flag : flags_) {
    if (flag->name_ == name) return flag->from_command_line_ || flag->from_env_;
  }
  return false;
}

std::vector<const Flag*> Flags::flags() const {
  std::vector<const Flag*> out;
  for (const std::unique_ptr<Flag>& flag : flags_) out.push_back(flag.get());
  return out;
}

std::string Flags::Help() const { return app_->help(); }

}  // namespace hive::cli

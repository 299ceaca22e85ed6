#include "clients/hivectl/invocation.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include <google/protobuf/util/json_util.h>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "bridge/status_macros.h"
#include "bridge/uuid.h"

namespace hive::ctl {
namespace {

namespace v1 = ::hive::bridge::v1;

// One option as the tokenizer knows it: whether it takes a value and whether
// it may be given more than once. Which command accepts it is checked after.
struct OptionSpec {
  absl::string_view name;
  bool takes_value;
  bool repeatable;
};

constexpr OptionSpec kOptions[] = {
    {"server", true, false},  {"output", true, false},     {"timeout", true, false},
    {"account", true, true},  {"page-size", true, false},  {"instance", true, false},
    {"app", true, false},     {"appstore", true, false},   {"version", true, false},
    {"link", true, true},     {"wait", true, false},       {"request-id", true, false},
    {"connect-timeout", true, false}, {"force", false, false}, {"arg", true, true},
    {"payload", true, false}, {"device", true, true},      {"type", true, true},
    {"resume", true, false},  {"count", true, false},      {"tls", false, false},
    {"ca", true, false},      {"cert", true, false},       {"key", true, false},
    {"server-name", true, false}, {"token", true, false},
    {"jwt-secret-file", true, false}, {"device-id", true, false}, {"expires-in", true, false},
};

// Options of every command: how to reach the bridge and how to print.
bool IsGlobal(absl::string_view name) {
  for (absl::string_view global : {"server", "output", "timeout", "tls", "ca", "cert", "key", "server-name", "token"}) {
    if (name == global) return true;
  }
  return false;
}

const OptionSpec* FindSpec(absl::string_view name) {
  for (const OptionSpec& spec : kOptions) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

std::string Quoted(absl::string_view text) { return absl::StrCat("\"", text, "\""); }

absl::Status Usage(absl::string_view where, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", problem));
}

absl::Status Invalid(absl::string_view where, absl::string_view expected, absl::string_view text) {
  return Usage(where, absl::StrCat("expected ", expected, ", got ", Quoted(text)));
}

// The command line split into positionals and options, in order.
struct Tokens {
  std::vector<std::string> positionals;
  std::vector<std::pair<std::string, std::string>> options;  // name without "--", value ("true" for a switch)
};

absl::StatusOr<Tokens> Tokenize(int argc, const char* const* argv) {
  Tokens tokens;
  bool only_positionals = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (only_positionals || arg == "-" || !absl::StartsWith(arg, "-")) {
      tokens.positionals.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positionals = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") return absl::CancelledError(HivectlHelp());
    absl::string_view name;
    std::optional<absl::string_view> value;
    if (arg == "-o") {
      name = "output";
    } else if (absl::ConsumePrefix(&arg, "--")) {
      const size_t equals = arg.find('=');
      name = arg.substr(0, equals);
      if (equals != absl::string_view::npos) value = arg.substr(equals + 1);
    } else {
      return Usage(arg, "unknown option; see --help");
    }
    const OptionSpec* spec = FindSpec(name);
    if (spec == nullptr) return Usage(absl::StrCat("--", name), "unknown option; see --help");
    if (!spec->takes_value) {
      if (value.has_value()) return Usage(absl::StrCat("--", name), "takes no value");
      value = "true";
    } else if (!value.has_value()) {
      if (i + 1 >= argc || absl::StartsWith(argv[i + 1], "--")) {
        return Usage(absl::StrCat("--", name), "missing value");
      }
      value = argv[++i];
    }
    tokens.options.emplace_back(std::string(spec->name), std::string(*value));
  }
  return tokens;
}

// The options a command was given, checked against the ones it accepts.
class CommandOptions {
 public:
  static absl::StatusOr<CommandOptions> Take(const Tokens& tokens, absl::string_view command,
                                             std::vector<absl::string_view> accepted) {
    CommandOptions taken;
    for (const auto& [name, value] : tokens.options) {
      if (IsGlobal(name)) continue;
      if (std::find(accepted.begin(), accepted.end(), name) == accepted.end()) {
        return Usage(absl::StrCat("--", name), absl::StrCat("not an option of \"hivectl ", command, "\""));
      }
      if (!FindSpec(name)->repeatable && taken.Has(name)) return Usage(absl::StrCat("--", name), "given twice");
      taken.options_.emplace_back(name, value);
    }
    return taken;
  }

  bool Has(absl::string_view name) const {
    for (const auto& option : options_) {
      if (option.first == name) return true;
    }
    return false;
  }
  std::optional<std::string> Get(absl::string_view name) const {
    for (const auto& option : options_) {
      if (option.first == name) return option.second;
    }
    return std::nullopt;
  }
  std::vector<std::string> All(absl::string_view name) const {
    std::vector<std::string> values;
    for (const auto& option : options_) {
      if (option.first == name) values.push_back(option.second);
    }
    return values;
  }
  absl::StatusOr<std::string> Required(absl::string_view name, absl::string_view command) const {
    std::optional<std::string> value = Get(name);
    if (!value.has_value()) {
      return Usage(absl::StrCat("--", name), absl::StrCat("required by \"hivectl ", command, "\""));
    }
    return *value;
  }

 private:
  std::vector<std::pair<std::string, std::string>> options_;
};

absl::StatusOr<std::string> ParseUuid(absl::string_view where, absl::string_view text) {
  if (!IsUuid(text)) return Invalid(where, "a UUID such as 8813b625-e219-4390-9a7b-fe0e22c9e50b", text);
  return CanonicalUuid(text);
}

// Plain numbers are seconds ("30"); anything else is an absl duration ("500ms", "2m").
absl::StatusOr<absl::Duration> ParseDuration(absl::string_view where, absl::string_view text) {
  double seconds = 0;
  absl::Duration value;
  if (absl::SimpleAtod(text, &seconds) && std::isfinite(seconds)) {
    value = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, &value)) {
    return Invalid(where, "a duration such as 10s, 500ms or 2m", text);
  }
  if (value < absl::ZeroDuration() || value == absl::InfiniteDuration()) {
    return Invalid(where, "a finite duration of zero or more", text);
  }
  return value;
}

absl::StatusOr<int64_t> ParseInteger(absl::string_view where, absl::string_view text, int64_t min, int64_t max) {
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < min || value > max) {
    return Invalid(where, absl::StrCat("an integer from ", min, " to ", max), text);
  }
  return value;
}

// Looks `word` up among (word, value) pairs; `where` and the words name the error.
template <typename T>
absl::StatusOr<T> ParseWord(absl::string_view where, absl::string_view text,
                            std::vector<std::pair<absl::string_view, T>> words) {
  std::vector<absl::string_view> names;
  for (const auto& [word, value] : words) {
    if (word == text) return value;
    names.push_back(word);
  }
  return Invalid(where, absl::StrJoin(names, "|"), text);
}

// --arg k=v, repeated: string values in a Struct.
absl::Status ParseArguments(const std::vector<std::string>& args, google::protobuf::Struct& out) {
  for (const std::string& arg : args) {
    const size_t equals = arg.find('=');
    if (equals == std::string::npos || equals == 0) return Invalid("--arg", "KEY=VALUE", arg);
    (*out.mutable_fields())[arg.substr(0, equals)].set_string_value(arg.substr(equals + 1));
  }
  return absl::OkStatus();
}

// --link name=domain,token, repeated; the domain may be empty (the default domain).
absl::Status ParseLinks(const std::vector<std::string>& links, v1::SchedulerAction& action) {
  for (const std::string& link : links) {
    const size_t equals = link.find('=');
    const size_t comma = link.find(',', equals == std::string::npos ? 0 : equals);
    if (equals == std::string::npos || equals == 0 || comma == std::string::npos) {
      return Invalid("--link", "NAME=DOMAIN,TOKEN (DOMAIN may be empty)", link);
    }
    const std::string name = link.substr(0, equals);
    if (action.links().count(name) > 0) return Usage("--link", absl::StrCat("link ", Quoted(name), " given twice"));
    v1::Link& out = (*action.mutable_links())[name];
    out.set_domain(link.substr(equals + 1, comma - equals - 1));
    out.set_token(link.substr(comma + 1));
  }
  return absl::OkStatus();
}

// --payload JSON or @FILE: a JSON object.
absl::Status ParsePayload(absl::string_view text, google::protobuf::Struct& out) {
  std::string json(text);
  if (absl::ConsumePrefix(&text, "@")) {
    std::ifstream file{std::string(text)};
    if (!file) return Usage("--payload", absl::StrCat("cannot read ", Quoted(text)));
    std::stringstream contents;
    contents << file.rdbuf();
    json = contents.str();
  }
  const auto status = google::protobuf::util::JsonStringToMessage(json, &out);
  if (!status.ok()) {
    return Usage("--payload", absl::StrCat("expected a JSON object: ", std::string(status.message())));
  }
  return absl::OkStatus();
}

absl::Status ExpectPositionals(const Tokens& tokens, size_t count, absl::string_view usage) {
  if (tokens.positionals.size() < count) return Usage(usage, "missing arguments");
  if (tokens.positionals.size() > count) {
    return Usage(usage, absl::StrCat("unexpected argument ", Quoted(tokens.positionals[count])));
  }
  return absl::OkStatus();
}

absl::StatusOr<Command> ParseDevices(const Tokens& tokens) {
  HIVE_RETURN_IF_ERROR(ExpectPositionals(tokens, 1, "hivectl devices [--account UUID] [--page-size N]"));
  CommandOptions options;
  HIVE_ASSIGN_OR_RETURN(options, CommandOptions::Take(tokens, "devices", {"account", "page-size"}));
  if (options.All("account").size() > 1) return Usage("--account", "given twice");
  ListDevicesCommand command;
  if (auto account = options.Get("account")) {
    HIVE_ASSIGN_OR_RETURN(*command.request.mutable_account_id(), ParseUuid("--account", *account));
  }
  if (auto size = options.Get("page-size")) {
    int64_t value = 0;
    HIVE_ASSIGN_OR_RETURN(value, ParseInteger("--page-size", *size, 1, 1000));
    command.request.set_page_size(static_cast<int32_t>(value));
  }
  return command;
}

absl::StatusOr<Command> ParseDevice(const Tokens& tokens) {
  HIVE_RETURN_IF_ERROR(ExpectPositionals(tokens, 2, "hivectl device DEVICE_ID"));
  HIVE_RETURN_IF_ERROR(CommandOptions::Take(tokens, "device", {}).status());
  GetDeviceCommand command;
  HIVE_ASSIGN_OR_RETURN(*command.request.mutable_device_id(), ParseUuid("DEVICE_ID", tokens.positionals[1]));
  return command;
}

absl::StatusOr<Command> ParseSend(const Tokens& tokens) {
  constexpr absl::string_view kUsage = "hivectl send DEVICE KIND ACTION";
  if (tokens.positionals.size() < 3) {
    return Usage(kUsage, "missing arguments; KIND is scheduler-action, upgrade, device-command, "
                         "app-instance-command or raw");
  }
  const std::string& kind = tokens.positionals[2];
  const std::vector<absl::string_view> common = {"wait", "request-id", "connect-timeout"};
  auto accepted = [&](std::vector<absl::string_view> own) {
    own.insert(own.end(), common.begin(), common.end());
    return own;
  };
  const std::string where = absl::StrCat("send ", kind);

  SendCommand command;
  v1::SendDeviceRequestRequest& request = command.request;
  HIVE_ASSIGN_OR_RETURN(*request.mutable_device_id(), ParseUuid("DEVICE", tokens.positionals[1]));
  CommandOptions options;
  if (kind == "scheduler-action") {
    HIVE_RETURN_IF_ERROR(ExpectPositionals(tokens, 4, "hivectl send DEVICE scheduler-action start|stop"));
    HIVE_ASSIGN_OR_RETURN(options, CommandOptions::Take(tokens, where, accepted({"instance", "app", "appstore", "version",
                                                                           "account", "link"})));
    v1::SchedulerAction& action = *request.mutable_command()->mutable_scheduler_action();
    std::string instance;
    HIVE_ASSIGN_OR_RETURN(instance, options.Required("instance", where));
    HIVE_ASSIGN_OR_RETURN(*action.mutable_instance(), ParseUuid("--instance", instance));
    v1::SchedulerAction::Action verb{};
    HIVE_ASSIGN_OR_RETURN(verb, ParseWord<v1::SchedulerAction::Action>(
                             "scheduler-action", tokens.positionals[3],
                             {{"start", v1::SchedulerAction::ACTION_START}, {"stop", v1::SchedulerAction::ACTION_STOP}}));
    action.set_action(verb);
    HIVE_ASSIGN_OR_RETURN(*action.mutable_application()->mutable_name(), options.Required("app", where));
    if (auto appstore = options.Get("appstore")) action.mutable_application()->set_appstore(*appstore);
    if (auto version = options.Get("version")) action.mutable_application()->set_version(*version);
    const std::vector<std::string> accounts = options.All("account");
    if (accounts.size() > 1) return Usage("--account", "given twice");
    if (!accounts.empty()) HIVE_ASSIGN_OR_RETURN(*action.mutable_account(), ParseUuid("--account", accounts[0]));
    HIVE_RETURN_IF_ERROR(ParseLinks(options.All("link"), action));
  } else if (kind == "upgrade") {
    HIVE_RETURN_IF_ERROR(ExpectPositionals(tokens, 3, "hivectl send DEVICE upgrade"));
    HIVE_ASSIGN_OR_RETURN(options, CommandOptions::Take(tokens, where, accepted({"version", "force"})));
    v1::UpgradeDevice& upgrade = *request.mutable_command()->mutable_upgrade_device();
    upgrade.set_action(v1::UpgradeDevice::ACTION_UPGRADE);
    if (auto version = options.Get("version")) upgrade.set_version(*version);
    if (options.Has("force")) upgrade.set_force(true);
  } else if (kind == "device-command") {
    HIVE_RETURN_IF_ERROR(
        ExpectPositionals(tokens, 4, "hivectl send DEVICE device-command check-disk-space|reboot"));
    HIVE_ASSIGN_OR_RETURN(options, CommandOptions::Take(tokens, where, accepted({"arg"})));
    v1::DeviceCommand& device_command = *request.mutable_command()->mutable_device_command();
    v1::DeviceCommand::Action verb{};
    HIVE_ASSIGN_OR_RETURN(verb, ParseWord<v1::DeviceCommand::Action>(
                             "device-command", tokens.positionals[3],
                             {{"check-disk-space", v1::DeviceCommand::ACTION_CHECK_DISK_SPACE},
                              {"reboot", v1::DeviceCommand::ACTION_REBOOT}}));
    device_command.set_action(verb);
    const std::vector<std::string> args = options.All("arg");
    if (!args.empty()) HIVE_RETURN_IF_ERROR(ParseArguments(args, *device_command.mutable_arguments()));
  } else if (kind == "app-instance-command") {
    HIVE_RETURN_IF_ERROR(
        ExpectPositionals(tokens, 4, "hivectl send DEVICE app-instance-command create-user|configure"));
    HIVE_ASSIGN_OR_RETURN(options, CommandOptions::Take(tokens, where, accepted({"instance", "account", "arg"})));
    v1::AppInstanceCommand& app_command = *request.mutable_command()->mutable_app_instance_command();
    v1::AppInstanceCommand::Action verb{};
    HIVE_ASSIGN_OR_RETURN(verb, ParseWord<v1::AppInstanceCommand::Action>(
                             "app-instance-command", tokens.positionals[3],
                             {{"create-user", v1::AppInstanceCommand::ACTION_CREATE_USER},
                              {"configure", v1::AppInstanceCommand::ACTION_CONFIGURE}}));
    app_command.set_action(verb);
    std::string instance;
    HIVE_ASSIGN_OR_RETURN(instance, options.Required("instance", where));
    HIVE_ASSIGN_OR_RETURN(*app_command.mutable_instance(), ParseUuid("--instance", instance));
    const std::vector<std::string> accounts = options.All("account");
    if (accounts.size() > 1) return Usage("--account", "given twice");
    if (!accounts.empty()) HIVE_ASSIGN_OR_RETURN(*app_command.mutable_account(), ParseUuid("--account", accounts[0]));
    const std::vector<std::string> args = options.All("arg");
    if (!args.empty()) HIVE_RETURN_IF_ERROR(ParseArguments(args, *app_command.mutable_arguments()));
  } else if (kind == "raw") {
    HIVE_RETURN_IF_ERROR(ExpectPositionals(tokens, 4, "hivectl send DEVICE raw KIND.ACTION"));
    HIVE_ASSIGN_OR_RETURN(options, CommandOptions::Take(tokens, where, accepted({"payload"})));
    const std::string& name = tokens.positionals[3];
    const size_t dot = name.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == name.size() ||
        name.find('.', dot + 1) != std::string::npos) {
      return Invalid("raw", "a wire command KIND.ACTION such as SchedulerAction.stop", name);
    }
    v1::RawCommand& raw = *request.mutable_command()->mutable_raw();
    raw.set_command(name);
    if (auto payload = options.Get("payload")) {
      HIVE_RETURN_IF_ERROR(ParsePayload(*payload, *raw.mutable_payload()));
    } else {
      raw.mutable_payload();  // an empty object
    }
  } else {
    return Invalid("KIND", "scheduler-action|upgrade|device-command|app-instance-command|raw", kind);
  }

  if (auto wait = options.Get("wait")) {
    v1::WaitMode mode{};
    HIVE_ASSIGN_OR_RETURN(mode, ParseWord<v1::WaitMode>("--wait", *wait,
                                                 {{"ack", v1::WAIT_MODE_ACK},
                                                  {"result", v1::WAIT_MODE_RESULT},
                                                  {"none", v1::WAIT_MODE_NONE}}));
    request.set_wait(mode);
  }
  if (auto id = options.Get("request-id")) HIVE_ASSIGN_OR_RETURN(*request.mutable_request_id(), ParseUuid("--request-id", *id));
  if (auto connect = options.Get("connect-timeout")) {
    absl::Duration timeout;
    HIVE_ASSIGN_OR_RETURN(timeout, ParseDuration("--connect-timeout", *connect));
    const int64_t nanos = absl::ToInt64Nanoseconds(timeout);
    request.mutable_connect_timeout()->set_seconds(nanos / 1'000'000'000);
    request.mutable_connect_timeout()->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
  }
  return command;
}

absl::StatusOr<Command> ParseSubscribe(const Tokens& tokens) {
  HIVE_RETURN_IF_ERROR(ExpectPositionals(tokens, 1, "hivectl subscribe [--account A]... [--device D]... "
                                                       "[--type T]... [--resume EPOCH:SEQ] [--count N]"));
  CommandOptions options;
  HIVE_ASSIGN_OR_RETURN(options, CommandOptions::Take(tokens, "subscribe", {"account", "device", "type", "resume", "count"}));
  SubscribeCommand command;
  for (const std::string& account : options.All("account")) {
    HIVE_ASSIGN_OR_RETURN(*command.request.add_account_ids(), ParseUuid("--account", account));
  }
  for (const std::string& device : options.All("device")) {
    HIVE_ASSIGN_OR_RETURN(*command.request.add_device_ids(), ParseUuid("--device", device));
  }
  for (const std::string& type : options.All("type")) {
    if (type.empty()) return Invalid("--type", "an event type such as device-state", type);
    command.request.add_types(type);
  }
  if (auto resume = options.Get("resume")) {
    const size_t colon = resume->rfind(':');
    uint64_t sequence = 0;
    if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(resume->substr(colon + 1), &sequence)) {
      return Invalid("--resume", "EPOCH:SEQUENCE as printed by subscribe", *resume);
    }
    command.request.mutable_resume_after()->set_epoch(resume->substr(0, colon));
    command.request.mutable_resume_after()->set_sequence(sequence);
  }
  if (auto count = options.Get("count")) HIVE_ASSIGN_OR_RETURN(command.count, ParseInteger("--count", *count, 1, INT64_MAX));
  return command;
}

// $NAME from a null-terminated "NAME=value" array; nullopt when unset or empty.
std::optional<std::string> EnvValue(const char* const* environ, absl::string_view name) {
  if (environ == nullptr) return std::nullopt;
  for (const char* const* entry = environ; *entry != nullptr; ++entry) {
    absl::string_view text = *entry;
    if (absl::ConsumePrefix(&text, name) && absl::ConsumePrefix(&text, "=")) {
      if (text.empty()) return std::nullopt;
      return std::string(text);
    }
  }
  return std::nullopt;
}

absl::StatusOr<Command> ParseToken(const Tokens& tokens) {
  HIVE_RETURN_IF_ERROR(ExpectPositionals(
      tokens, 1, "hivectl token --jwt-secret-file PATH --device-id UUID --account UUID [--expires-in D]"));
  CommandOptions options;
  HIVE_ASSIGN_OR_RETURN(options,
                        CommandOptions::Take(tokens, "token", {"jwt-secret-file", "device-id", "account", "expires-in"}));
  if (options.All("account").size() > 1) return Usage("--account", "given twice");
  TokenCommand command;
  HIVE_ASSIGN_OR_RETURN(command.secret_file, options.Required("jwt-secret-file", "token"));
  std::string text;
  HIVE_ASSIGN_OR_RETURN(text, options.Required("device-id", "token"));
  HIVE_ASSIGN_OR_RETURN(command.device_id, ParseUuid("--device-id", text));
  HIVE_ASSIGN_OR_RETURN(text, options.Required("account", "token"));
  HIVE_ASSIGN_OR_RETURN(command.account_id, ParseUuid("--account", text));
  if (auto expires = options.Get("expires-in")) {
    HIVE_ASSIGN_OR_RETURN(command.expires_in, ParseDuration("--expires-in", *expires));
    if (command.expires_in == absl::ZeroDuration()) return Invalid("--expires-in", "a positive duration", *expires);
  }
  return command;
}

}  // namespace

absl::StatusOr<Invocation> ParseInvocation(int argc, const char* const* argv, const char* const* environ) {
  Tokens tokens;
  HIVE_ASSIGN_OR_RETURN(tokens, Tokenize(argc, argv));
  Invocation invocation;
  GlobalOptions& global = invocation.global;
  if (auto server = EnvValue(environ, "HIVECTL_SERVER")) global.server = *server;
  if (auto token = EnvValue(environ, "HIVECTL_TOKEN")) global.token = *token;
  absl::flat_hash_set<std::string> seen;
  for (const auto& [name, value] : tokens.options) {
    if (!IsGlobal(name)) continue;
    if (!seen.insert(name).second) return Usage(absl::StrCat("--", name), "given twice");
    if (name == "server") {
      if (value.empty() || value.find(':') == std::string::npos) return Invalid("--server", "HOST:PORT", value);
      global.server = value;
    } else if (name == "output") {
      HIVE_ASSIGN_OR_RETURN(global.output,
                     ParseWord<OutputFormat>("--output", value,
                                             {{"table", OutputFormat::kTable}, {"json", OutputFormat::kJson}}));
    } else if (name == "timeout") {
      HIVE_ASSIGN_OR_RETURN(global.timeout, ParseDuration("--timeout", value));
      if (global.timeout == absl::ZeroDuration()) return Invalid("--timeout", "a positive duration", value);
      global.timeout_given = true;
    } else if (name == "tls") {
      global.tls = true;
    } else if (value.empty()) {
      return Usage(absl::StrCat("--", name), "expected a value, got \"\"");
    } else if (name == "ca") {
      global.ca_file = value;
    } else if (name == "cert") {
      global.cert_file = value;
    } else if (name == "key") {
      global.key_file = value;
    } else if (name == "server-name") {
      global.server_name = value;
    } else if (name == "token") {
      global.token = value;
    }
  }
  if (global.cert_file.empty() != global.key_file.empty()) {
    return global.key_file.empty() ? Usage("--cert", "needs --key (the client certificate's private key)")
                                   : Usage("--key", "needs --cert (the client certificate it belongs to)");
  }
  if (!global.ca_file.empty() || !global.cert_file.empty()) global.tls = true;
  if (!global.server_name.empty() && !global.tls) return Usage("--server-name", "needs TLS (--tls, --ca or --cert)");
  if (tokens.positionals.empty()) return absl::InvalidArgumentError("missing COMMAND; see --help");
  const std::string& name = tokens.positionals[0];
  if (name == "devices") {
    HIVE_ASSIGN_OR_RETURN(invocation.command, ParseDevices(tokens));
  } else if (name == "device") {
    HIVE_ASSIGN_OR_RETURN(invocation.command, ParseDevice(tokens));
  } else if (name == "send") {
    HIVE_ASSIGN_OR_RETURN(invocation.command, ParseSend(tokens));
  } else if (name == "subscribe") {
    HIVE_ASSIGN_OR_RETURN(invocation.command, ParseSubscribe(tokens));
  } else if (name == "token") {
    HIVE_ASSIGN_OR_RETURN(invocation.command, ParseToken(tokens));
  } else if (name == "help") {
    return absl::CancelledError(HivectlHelp());
  } else {
    return Invalid("COMMAND", "devices|device|send|subscribe|token", name);
  }
  return invocation;
}

std::string HivectlHelp() {
  return R"(Usage: hivectl [GLOBAL OPTIONS] COMMAND [ARGS] [OPTIONS]
The command-line client of hivebridge's DeviceBridge gRPC API.
Options take --name VALUE or --name=VALUE and may come anywhere after hivectl.

Global options:
  --server HOST:PORT     the bridge's gRPC address [default: localhost:9090, or $HIVECTL_SERVER]
  --output, -o FORMAT    table|json; json prints protobuf JSON (proto field names) [default: table]
  --timeout DURATION     deadline of each call, e.g. 10s, 500ms, 2m [default: 10s];
                         subscribe has no deadline unless --timeout is given
  --tls                  call over TLS, verifying the bridge with the system's CA certificates
  --ca FILE              call over TLS, verifying the bridge with this PEM CA instead
  --cert FILE --key FILE PEM client certificate and its key, for a bridge that asks for one
                         (mTLS, --grpc-client-ca); implies TLS
  --server-name NAME     the name the bridge's certificate must carry [default: host of --server]
  --token TOKEN          sent as "authorization: Bearer TOKEN" (backend policy; docs/SECURITY.md)
                         [default: $HIVECTL_TOKEN, or none]
  --help, -h             print this help and exit

Commands:
  devices [--account UUID] [--page-size N]
      List connected devices (every page; N from 1 to 1000 per call).
  device DEVICE_ID
      Describe one connected device.
  send DEVICE scheduler-action start|stop --instance UUID --app NAME [--appstore S]
       [--version V] [--account UUID] [--link NAME=DOMAIN,TOKEN]...
      Start or stop an app instance. DOMAIN may be empty (the default domain).
  send DEVICE upgrade [--version V] [--force]
      Update the device software.
  send DEVICE device-command check-disk-space|reboot [--arg KEY=VALUE]...
      A hardware command; --arg values are JSON strings.
  send DEVICE app-instance-command create-user|configure --instance UUID [--account UUID]
       [--arg KEY=VALUE]...
      An app instance configuration command.
  send DEVICE raw KIND.ACTION [--payload JSON|@FILE]
      Any wire command with a JSON object payload [default: {}].
    Every send also takes:
      --wait ack|result|none    return on the device's ack, its result, or once sent [default: ack]
      --request-id UUID         idempotency key [default: generated by the bridge]
      --connect-timeout D       wait this long for an offline device to connect [default: 0]
  subscribe [--account UUID]... [--device UUID]... [--type TYPE]... [--resume EPOCH:SEQ] [--count N]
      Print matching events as they come: table, one line each (EPOCH:SEQ as
      --resume takes it, type, device, short body), or json, one object per
      line. Stops after N events; without --count, runs until interrupted.
  token --jwt-secret-file PATH --device-id UUID --account UUID [--expires-in D]
      Print an HS256 device token signed with the bridge's --jwt-secret-file, valid for D
      [default: 1h]. Local: calls no bridge. For development and first connections.

Exit status:
  0   OK
  1   the device reported failure (send: REQUEST_STATUS_FAILED)
  2   usage error
  10 + gRPC status code otherwise, with "hivectl: CODE: message" on stderr:
      11 CANCELLED           12 UNKNOWN             13 INVALID_ARGUMENT
      14 DEADLINE_EXCEEDED   15 NOT_FOUND           16 ALREADY_EXISTS
      17 PERMISSION_DENIED   18 RESOURCE_EXHAUSTED  19 FAILED_PRECONDITION
      20 ABORTED             21 OUT_OF_RANGE        22 UNIMPLEMENTED
      23 INTERNAL            24 UNAVAILABLE         25 DATA_LOSS
      26 UNAUTHENTICATED
)";
}

}  // namespace hive::ctl

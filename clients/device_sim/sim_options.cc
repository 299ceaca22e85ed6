#include "clients/device_sim/sim_options.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include <websocketpp/uri.hpp>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "bridge/uuid.h"

namespace hive::sim {
namespace {

// One row of the option table: all that parsing and --help know of an option.
struct Option {
  absl::string_view name;     // without "--"
  absl::string_view metavar;  // empty for a switch, which takes no value
  absl::string_view help;
  std::function<absl::Status(absl::string_view text, SimOptions& options)> parse;
  std::function<std::string(const SimOptions& options)> show;
};

template <typename T>
using Field = T SimOptions::*;

std::string Quoted(absl::string_view text) { return absl::StrCat("\"", text, "\""); }

absl::Status Invalid(absl::string_view expected, absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat("expected ", expected, ", got ", Quoted(text)));
}

Option Text(absl::string_view name, absl::string_view metavar, Field<std::string> field, absl::string_view unset,
            absl::string_view help) {
  return {name, metavar, help,
          [field](absl::string_view text, SimOptions& options) {
            if (text.empty()) return Invalid("a value", text);
            options.*field = std::string(text);
            return absl::OkStatus();
          },
          [field, unset](const SimOptions& options) {
            return (options.*field).empty() ? std::string(unset) : options.*field;
          }};
}

// A UUID, stored lowercase as the bridge reports ids.
Option Uuid(absl::string_view name, Field<std::string> field, absl::string_view unset, absl::string_view help) {
  return {name, "UUID", help,
          [field](absl::string_view text, SimOptions& options) {
            if (!IsUuid(text)) return Invalid("a UUID such as 8813b625-e219-4390-9a7b-fe0e22c9e50b", text);
            options.*field = absl::AsciiStrToLower(text);
            return absl::OkStatus();
          },
          [field, unset](const SimOptions& options) {
            return (options.*field).empty() ? std::string(unset) : options.*field;
          }};
}

template <typename T>
Option Integer(absl::string_view name, Field<T> field, T min, T max, absl::string_view unset,
               absl::string_view help) {
  return {name, "N", help,
          [field, min, max](absl::string_view text, SimOptions& options) {
            T value{};
            if (!absl::SimpleAtoi(text, &value) || value < min || value > max) {
              return Invalid(absl::StrCat("an integer from ", min, " to ", max), text);
            }
            options.*field = value;
            return absl::OkStatus();
          },
          [field, unset](const SimOptions& options) {
            return options.*field == T{} ? std::string(unset) : absl::StrCat(options.*field);
          }};
}

Option Rate(absl::string_view name, Field<double> field, double min, double max, absl::string_view help) {
  return {name, "R", help,
          [field, min, max](absl::string_view text, SimOptions& options) {
            double value = 0;
            if (!absl::SimpleAtod(text, &value) || !std::isfinite(value) || value < min || value > max) {
              return Invalid(absl::StrCat("a number from ", min, " to ", max), text);
            }
            options.*field = value;
            return absl::OkStatus();
          },
          [field](const SimOptions& options) { return absl::StrCat(options.*field); }};
}

// Plain numbers are seconds (--duration 5); anything else is an absl
// duration (--token-ttl 90m).
Option Seconds(absl::string_view name, Field<absl::Duration> field, absl::Duration min, absl::Duration max,
               absl::string_view help) {
  return {name, "SECONDS", help,
          [field, min, max](absl::string_view text, SimOptions& options) {
            double seconds = 0;
            absl::Duration value;
            if (absl::SimpleAtod(text, &seconds) && std::isfinite(seconds)) {
              value = absl::Seconds(seconds);
            } else if (!absl::ParseDuration(text, &value)) {
              return Invalid("seconds such as 30, or a duration such as 90m", text);
            }
            if (value < min || value > max) {
              return Invalid(absl::StrCat("a duration from ", absl::FormatDuration(min), " to ",
                                          absl::FormatDuration(max)),
                             text);
            }
            options.*field = value;
            return absl::OkStatus();
          },
          [field](const SimOptions& options) {
            return options.*field == absl::ZeroDuration() ? std::string("0") : absl::FormatDuration(options.*field);
          }};
}

// One of a few words, each naming a value of T.
template <typename T>
Option Choice(absl::string_view name, absl::string_view metavar, Field<T> field,
              std::vector<std::pair<absl::string_view, T>> words, absl::string_view help) {
  return {name, metavar, help,
          [field, words, metavar](absl::string_view text, SimOptions& options) {
            for (const auto& [word, value] : words) {
              if (word == text) {
                options.*field = value;
                return absl::OkStatus();
              }
            }
            return Invalid(metavar, text);
          },
          [field, words](const SimOptions& options) {
            for (const auto& [word, value] : words) {
              if (options.*field == value) return std::string(word);
            }
            return std::string();
          }};
}

// A switch: --name sets it, --no-name or --name=false clears it.
Option Switch(absl::string_view name, Field<bool> field, absl::string_view help) {
  return {name, "", help,
          [field](absl::string_view text, SimOptions& options) {
            if (text != "true" && text != "false") return Invalid("true or false", text);
            options.*field = text == "true";
            return absl::OkStatus();
          },
          [field](const SimOptions& options) { return std::string(options.*field ? "on" : "off"); }};
}

absl::Status ParseUrl(absl::string_view text, SimOptions& options) {
  const websocketpp::uri uri{std::string(text)};
  if (!uri.get_valid() || (uri.get_scheme() != "ws" && uri.get_scheme() != "wss")) {
    return Invalid("a ws:// or wss:// URL such as ws://127.0.0.1:8080/v1/devices", text);
  }
  options.url = std::string(text);
  return absl::OkStatus();
}

absl::Status ParseOnRequest(absl::string_view text, SimOptions& options) {
  absl::StatusOr<RequestPolicy> policy = ParseRequestPolicy(text);
  if (!policy.ok()) return policy.status();
  options.on_request = *policy;
  return absl::OkStatus();
}

const std::vector<Option>& Options() {
  using codec::Dialect;
  static const std::vector<Option>* const options = new std::vector<Option>{
      {"url", "URL", "the bridge's device endpoint, ws:// or wss://", ParseUrl,
       [](const SimOptions& o) { return o.url; }},
      Integer("devices", &SimOptions::devices, 1, kMaxDevices, "1 (or every line of --tokens-file)",
              "simulated devices, one connection each"),
      Uuid("account", &SimOptions::account, "", "the account of every device"),
      Integer("accounts", &SimOptions::accounts, 1, kMaxDevices, "",
              "spread the devices over this many accounts derived from --seed, instead of --account"),
      Uuid("device-id", &SimOptions::device_id, "(derived from --seed)",
           "the id of the only device (--devices 1)"),
      Integer<uint64_t>("seed", &SimOptions::seed, 0, UINT64_MAX, "0",
                        "derives device and account ids and event contents: reruns reuse the ids"),
      Text("jwt-secret-file", "PATH", &SimOptions::jwt_secret_file, "(none)",
           "the bridge's HS256 secret: mint a token per device (sub, account, exp)"),
      Seconds("token-ttl", &SimOptions::token_ttl, absl::Seconds(1), absl::Hours(24 * 365),
              "lifetime of minted tokens; reconnects mint fresh ones"),
      Text("tokens-file", "PATH", &SimOptions::tokens_file, "(none)",
           "instead of --jwt-secret-file: lines of \"device_id account_id token\"; # starts a comment"),
      Choice("auth", "header|message", &SimOptions::auth,
             {{"header", AuthMode::kHeader}, {"message", AuthMode::kMessage}},
             "send the token in the Authorization header or as the first message"),
      Choice("dialect", "standard|compact", &SimOptions::dialect,
             {{"standard", Dialect::kStandard}, {"compact", Dialect::kCompact}},
             "subprotocol hive.v1 or hive.compact.v1"),
      Rate("event-rate", &SimOptions::event_rate, 0, 1000,
           "events per second per device: instances, instance-state, device-version, device-state in turn"),
      {"on-request", "POLICY",
       "answer to device-requests: ack (ack only), ack-result (ack, then the ok result), ack-fail (ack, then "
       "an error), ack-delay:MS (ack, then the ok result MS later), never",
       ParseOnRequest, [](const SimOptions& o) { return FormatRequestPolicy(o.on_request); }},
      Rate("connect-rate", &SimOptions::connect_rate, 0.01, 1e6,
           "new connections per second, reconnects included"),
      Switch("reconnect", &SimOptions::reconnect,
             "after a close (but 4409, replaced) or failure, reconnect with jittered backoff from 100ms to 30s"),
      Seconds("duration", &SimOptions::duration, absl::ZeroDuration(), absl::Hours(24 * 365),
              "run this long, then close every connection; 0 = until SIGINT or SIGTERM"),
      Integer("threads", &SimOptions::threads, 1, 256, "", "I/O threads, each with its own share of the devices"),
      Switch("quiet", &SimOptions::quiet, "no progress line and no per-connection logs"),
      Switch("json-stats", &SimOptions::json_stats, "print the final stats as one JSON line on exit"),
      Switch("require-all", &SimOptions::require_all,
             "exit 1 unless every device authenticated within 30s of start"),
      Text("tls-ca-file", "PATH", &SimOptions::tls_ca_file, "(system store)",
           "wss://: trust this PEM CA bundle instead of the system's"),
      Switch("tls-insecure", &SimOptions::tls_insecure, "wss://: do not verify the bridge's certificate"),
  };
  return *options;
}

const Option* FindOption(absl::string_view name) {
  for (const Option& option : Options()) {
    if (option.name == name) return &option;
  }
  return nullptr;
}

absl::Status ValidateTogether(const absl::flat_hash_set<absl::string_view>& given, SimOptions& options) {
  const bool minting = !options.jwt_secret_file.empty();
  if (minting == !options.tokens_file.empty()) {
    return absl::InvalidArgumentError(minting ? "--jwt-secret-file and --tokens-file exclude each other; give one"
                                              : "one of --jwt-secret-file or --tokens-file is required");
  }
  if (!minting) {
    // The file names every device, its account and its token.
    for (absl::string_view name : {"account", "accounts", "device-id", "token-ttl"}) {
      if (given.contains(name)) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, ": not with --tokens-file, which names the devices"));
      }
    }
    return absl::OkStatus();
  }
  if (options.devices == 0) options.devices = 1;
  if (!options.device_id.empty() && options.devices != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--device-id: pins one device, but --devices is ", options.devices));
  }
  if (given.contains("account") && options.accounts > 1) {
    return absl::InvalidArgumentError("--account and --accounts exclude each other; give one");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SimOptions> ParseSimOptions(int argc, const char* const* argv) {
  SimOptions options;
  absl::flat_hash_set<absl::string_view> given;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") return absl::CancelledError(SimOptionsHelp());
    if (!absl::ConsumePrefix(&arg, "--")) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument ", Quoted(arg), "; see --help"));
    }
    const size_t equals = arg.find('=');
    absl::string_view name = arg.substr(0, equals);
    std::optional<absl::string_view> value;
    if (equals != absl::string_view::npos) value = arg.substr(equals + 1);
    const Option* option = FindOption(name);
    if (option == nullptr && !value.has_value() && absl::ConsumePrefix(&name, "no-")) {
      option = FindOption(name);
      if (option != nullptr && !option->metavar.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("--no-", name, ": only switches have a --no- form"));
      }
      value = "false";
    }
    if (option == nullptr) return absl::InvalidArgumentError(absl::StrCat("--", arg, ": unknown option; see --help"));
    if (!value.has_value()) {
      if (option->metavar.empty()) {
        value = "true";
      } else if (i + 1 < argc && !absl::StartsWith(argv[i + 1], "--")) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("--", name, ": missing value"));
      }
    }
    if (absl::Status status = option->parse(*value, options); !status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--", option->name, ": ", status.message()));
    }
    given.insert(option->name);
  }
  if (absl::Status status = ValidateTogether(given, options); !status.ok()) return status;
  return options;
}

std::string SimOptionsHelp() {
  const SimOptions defaults;
  std::vector<std::pair<std::string, std::string>> rows;
  for (const Option& option : Options()) {
    const std::string flag = option.metavar.empty() ? absl::StrCat("--[no-]", option.name)
                                                    : absl::StrCat("--", option.name, " ", option.metavar);
    rows.emplace_back(flag, absl::StrCat(option.help, " [default: ", option.show(defaults), "]"));
  }
  rows.emplace_back("--help, -h", "print this help and exit");
  size_t width = 0;
  for (const auto& row : rows) width = std::max(width, row.first.size());

  std::string help =
      "Usage: hive-device-sim [--OPTION VALUE]...\n"
      "Simulates devices speaking the hivebridge device protocol (docs/protocol.md):\n"
      "authenticates, sends events, answers device-requests, reconnects.\n\n"
      "Options take --name VALUE or --name=VALUE. One of --jwt-secret-file and\n"
      "--tokens-file is required. On one loopback address a bridge port takes at most\n"
      "about 28000 connections (the ephemeral port range).\n"
      "Exit status: 0 after a clean run, 1 when --require-all is not met, 2 for bad options.\n\n";
  for (const auto& [flag, text] : rows) {
    absl::StrAppendFormat(&help, "  %-*s  %s\n", static_cast<int>(width), flag, text);
  }
  return help;
}

}  // namespace hive::sim

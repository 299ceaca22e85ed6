#include "clients/device_sim/sim_options.h"

#include <cstdint>
#include <memory>
#include <string>
#include <websocketpp/uri.hpp>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "bridge/uuid.h"
#include "cli/flags.h"

namespace hive::sim {
namespace {

absl::Status Invalid(absl::string_view expected, absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat("expected ", expected, ", got \"", text, "\""));
}

absl::Status ValidateUrl(absl::string_view text) {
  const websocketpp::uri uri{std::string(text)};
  if (!uri.get_valid() || (uri.get_scheme() != "ws" && uri.get_scheme() != "wss")) {
    return Invalid("a ws:// or wss:// URL such as ws://127.0.0.1:8080/v1/devices", text);
  }
  return absl::OkStatus();
}

// A UUID, stored lowercase as the bridge reports ids.
cli::Setter Uuid(std::string* target) {
  return [target](absl::string_view text) {
    if (!IsUuid(text)) return Invalid("a UUID such as 8813b625-e219-4390-9a7b-fe0e22c9e50b", text);
    *target = absl::AsciiStrToLower(text);
    return absl::OkStatus();
  };
}

// Every option of the simulator, bound to the fields of `options`.
std::unique_ptr<cli::Flags> SimFlags(SimOptions& options) {
  using codec::Dialect;
  auto flags = std::make_unique<cli::Flags>("hive-device-sim", "HIVE_SIM_");
  flags->SetDescription(
      "Simulates devices speaking the hivebridge device protocol (docs/protocol.md):\n"
      "authenticates, sends events, answers device-requests, reconnects.\n\n"
      "Every option is a flag (--name=VALUE or --name VALUE) or the environment variable in its\n"
      "[env: ...]; a flag wins over its variable. DURATION is like 500ms, 30s, 1m30s or 90m.\n"
      "One of --jwt-secret-file and --tokens-file is required. On one loopback address a bridge\n"
      "port takes at most about 28000 connections (the ephemeral port range).\n"
      "Exit status: 0 after a clean run, 1 when --require-all is not met, 2 for bad options.");
  cli::Flags& f = *flags;
  f.AddString("url", &options.url, "URL", "the bridge's device endpoint, ws:// or wss://", ValidateUrl);
  f.AddInteger("devices", &options.devices, 1, kMaxDevices, "simulated devices, one connection each")
      .DefaultText("1 (or every line of --tokens-file)");
  f.AddValue("account", "UUID", Uuid(&options.account), options.account, "the account of every device");
  f.AddInteger("accounts", &options.accounts, 1, kMaxDevices,
               "spread the devices over this many accounts derived from --seed, instead of --account");
  f.AddValue("device-id", "UUID", Uuid(&options.device_id), "(derived from --seed)",
             "the id of the only device (--devices 1)");
  f.AddInteger<uint64_t>("seed", &options.seed, 0, UINT64_MAX,
                         "derives device and account ids and event contents: reruns reuse the ids");
  f.AddString("jwt-secret-file", &options.jwt_secret_file, "PATH",
              "the bridge's HS256 secret: mint a token per device (sub, account, exp)")
      .DefaultText("(none)");
  f.AddDuration("token-ttl", &options.token_ttl, absl::Seconds(1), absl::Hours(24 * 365),
                "lifetime of minted tokens; reconnects mint fresh ones");
  f.AddString("tokens-file", &options.tokens_file, "PATH",
              "instead of --jwt-secret-file: lines of \"device_id account_id token\"; # starts a comment")
      .DefaultText("(none)");
  f.AddChoice("auth", &options.auth, {{"header", AuthMode::kHeader}, {"message", AuthMode::kMessage}},
              "send the token in the Authorization header or as the first message");
  f.AddChoice("dialect", &options.dialect, {{"standard", Dialect::kStandard}, {"compact", Dialect::kCompact}},
              "subprotocol hive.v1 or hive.compact.v1");
  f.AddNumber("event-rate", &options.event_rate, 0, 1000,
              "events per second per device: instances, instance-state, device-version, device-state in "
              "turn");
  f.AddValue(
      "on-request", "POLICY",
      [&options](absl::string_view text) {
        absl::StatusOr<RequestPolicy> policy = ParseRequestPolicy(text);
        if (!policy.ok()) return policy.status();
        options.on_request = *policy;
        return absl::OkStatus();
      },
      FormatRequestPolicy(options.on_request),
      "answer to device-requests: ack (ack only), ack-result (ack, then the ok result), ack-fail (ack, "
      "then an error), ack-delay:MS (ack, then the ok result MS later), never");
  f.AddNumber("connect-rate", &options.connect_rate, 0.01, 1e6, "new connections per second, reconnects included");
  f.AddSwitch("reconnect", &options.reconnect,
              "after a close (but 4409, replaced) or failure, reconnect with jittered backoff from 100ms to "
              "30s");
  f.AddDuration("duration", &options.duration, absl::ZeroDuration(), absl::Hours(24 * 365),
                "run this long, then close every connection; 0 = until SIGINT or SIGTERM");
  f.AddInteger("threads", &options.threads, 1, 256, "I/O threads, each with its own share of the devices");
  f.AddSwitch("quiet", &options.quiet, "no progress line and no per-connection logs");
  f.AddSwitch("json-stats", &options.json_stats, "print the final stats as one JSON line on exit");
  f.AddSwitch("require-all", &options.require_all, "exit 1 unless every device authenticated within 30s of start");
  f.AddString("tls-ca-file", &options.tls_ca_file, "PATH", "wss://: trust this PEM CA bundle instead of the system's")
      .DefaultText("(system store)");
  f.AddSwitch("tls-insecure", &options.tls_insecure, "wss://: do not verify the bridge's certificate");
  return flags;
}

absl::Status ValidateTogether(const cli::Flags& flags, SimOptions& options) {
  const bool minting = !options.jwt_secret_file.empty();
  if (minting == !options.tokens_file.empty()) {
    return absl::InvalidArgumentError(minting ? "--jwt-secret-file and --tokens-file exclude each other; give one"
                                              : "one of --jwt-secret-file or --tokens-file is required");
  }
  if (!minting) {
    // The file names every device, its account and its token.
    for (absl::string_view name : {"account", "accounts", "device-id", "token-ttl"}) {
      if (flags.Given(name)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, ": not with --tokens-file, which names the devices"));
      }
    }
    return absl::OkStatus();
  }
  if (options.devices == 0) options.devices = 1;
  if (!options.device_id.empty() && options.devices != 1) {
    return absl::InvalidArgumentError(absl::StrCat("--device-id: pins one device, but --devices is ", options.devices));
  }
  if (flags.Given("account") && options.accounts > 1) {
    return absl::InvalidArgumentError("--account and --accounts exclude each other; give one");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SimOptions> ParseSimOptions(int argc, const char* const* argv, const char* const* environ) {
  SimOptions options;
  const std::unique_ptr<cli::Flags> flags = SimFlags(options);
  if (absl::Status status = flags->Parse(argc, argv, environ); !status.ok()) return status;
  if (absl::Status status = ValidateTogether(*flags, options); !status.ok()) return status;
  return options;
}

std::string SimOptionsHelp() {
  SimOptions defaults;
  return SimFlags(defaults)->Help();
}

}  // namespace hive::sim

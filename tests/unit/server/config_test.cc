#include "server/config.h"

#include <unistd.h>

#include <climits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/support/command_line.h"

namespace hive::server {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kKeyFlag[] = "--jwt-secret-file=/etc/hivebridge/secret";

// Runs ParseConfig on `args` (after the program name) and `env` entries.
absl::StatusOr<Config> Parse(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  const hive::testing::CommandLine line("hivebridge", args, env);
  return ParseConfig(line.argc(), line.argv(), line.envp());
}

// Expects INVALID_ARGUMENT with exactly `message`.
void ExpectInvalid(const std::vector<std::string>& args, absl::string_view message,
                   const std::vector<std::string>& env = {}) {
  absl::StatusOr<Config> config = Parse(args, env);
  EXPECT_EQ(config.status(), absl::InvalidArgumentError(message));
}

// One option of --help: "--name=METAVAR", its text, "[default: X]" and
// "[env: NAME]", joined across the lines the entry wraps onto.
struct HelpOption {
  std::string flag, metavar, default_value, env;
};

std::vector<HelpOption> HelpOptions(const std::string& help) {
  std::vector<std::string> entries;
  for (absl::string_view line : absl::StrSplit(help, '\n')) {
    if (absl::StartsWith(line, "  --")) {
      entries.emplace_back(absl::StripAsciiWhitespace(line));
    } else if (!entries.empty() && absl::StartsWith(line, " ")) {
      absl::StrAppend(&entries.back(), " ", absl::StripAsciiWhitespace(line));
    }
  }
  std::vector<HelpOption> options;
  for (const std::string& entry : entries) {
    HelpOption option;
    const std::string head = entry.substr(2, entry.find(' ') - 2);
    option.flag = std::string(absl::StripSuffix(head.substr(0, head.find('=')), ","));  // "--help, -h"
    if (head.find('=') != std::string::npos) option.metavar = head.substr(head.find('=') + 1);
    if (size_t at = entry.find("[default: "); at != std::string::npos) {
      option.default_value = entry.substr(at + 10, entry.find(']', at) - at - 10);
    }
    if (size_t at = entry.find("[env: "); at != std::string::npos) {
      option.env = entry.substr(at + 6, entry.find(']', at) - at - 6);
    }
    options.push_back(option);
  }
  return options;
}

const HelpOption* FindOption(const std::vector<HelpOption>& options, absl::string_view flag) {
  for (const HelpOption& option : options) {
    if (option.flag == flag) return &option;
  }
  return nullptr;
}

// Counts the fields of an aggregate: the most initializers T{...} accepts.
struct AnyField {
  template <typename T>
  operator T() const;  // NOLINT: converts to any field type, unevaluated only
};
template <typename T, typename... A>
auto TryBraces(int) -> decltype(T{std::declval<A>()...}, std::true_type{});
template <typename T, typename... A>
std::false_type TryBraces(...);
template <typename T, typename... A>
constexpr size_t FieldCount() {
  if constexpr (decltype(TryBraces<T, A..., AnyField>(0))::value) {
    return FieldCount<T, A..., AnyField>();
  } else {
    return sizeof...(A);
  }
}

std::string HostName() {
  char name[HOST_NAME_MAX + 1] = {};
  gethostname(name, sizeof(name) - 1);
  return name;
}

TEST(Config, DefaultsNeedOnlyAKey) {
  absl::StatusOr<Config> config = Parse({kKeyFlag});
  ASSERT_TRUE(config.ok()) << config.status();
  const Config defaults;
  EXPECT_EQ(config->ws_listen, "0.0.0.0:8080");
  EXPECT_EQ(config->grpc_listen, "0.0.0.0:9090");
  EXPECT_EQ(config->jwt_secret_file, "/etc/hivebridge/secret");
  EXPECT_EQ(config->tls_cert_file, "");
  EXPECT_EQ(config->io_threads, 0);
  EXPECT_EQ(config->auth_timeout, absl::Seconds(10));
  EXPECT_EQ(config->token_leeway, absl::Seconds(30));
  EXPECT_EQ(config->max_message_bytes, size_t{1} << 20);
  EXPECT_EQ(config->max_bad_frames, defaults.max_bad_frames);
  EXPECT_EQ(config->ping_interval, absl::Seconds(30));
  EXPECT_EQ(config->pong_timeout, absl::Seconds(10));
  EXPECT_EQ(config->dedupe_window, absl::Minutes(5));
  EXPECT_EQ(config->event_history, defaults.event_history);
  EXPECT_EQ(config->bus, "inproc");
  EXPECT_EQ(config->drain_timeout, absl::Seconds(15));
  EXPECT_EQ(config->log_level, "info");
}

TEST(Config, ReplicaIdDefaultsToTheHostName) {
  absl::StatusOr<Config> config = Parse({kKeyFlag});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->replica_id, HostName());
  config = Parse({kKeyFlag, "--replica-id=hive-2"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->replica_id, "hive-2");
  ExpectInvalid({kKeyFlag, "--replica-id=a b"},
                R"(--replica-id: expected up to 255 letters, digits, '.', '-' or '_', got "a b")");
}

TEST(Config, AcceptsFlagWithEqualsSignOrSeparateValue) {
  absl::StatusOr<Config> config = Parse({kKeyFlag, "--ws-listen=127.0.0.1:1234", "--grpc-listen", ":5678"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ws_listen, "127.0.0.1:1234");
  EXPECT_EQ(config->grpc_listen, ":5678");
}

TEST(Config, RepeatedFlagTakesTheLastValue) {
  absl::StatusOr<Config> config = Parse({kKeyFlag, "--log-level=debug", "--log-level", "error"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->log_level, "error");
}

TEST(Config, ReadsEnvironmentVariables) {
  absl::StatusOr<Config> config =
      Parse({}, {"HIVEBRIDGE_JWT_PUBLIC_KEY_FILE=/keys/device.pem", "HIVEBRIDGE_WS_LISTEN=[::]:8443",
                 "HIVEBRIDGE_MAX_MESSAGE_BYTES=64KiB", "HIVEBRIDGE_DEFAULT_REQUEST_TIMEOUT=2s", "PATH=/usr/bin"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->jwt_public_key_file, "/keys/device.pem");
  EXPECT_EQ(config->ws_listen, "[::]:8443");
  EXPECT_EQ(config->max_message_bytes, 65536u);
  EXPECT_EQ(config->default_request_timeout, absl::Seconds(2));
}

TEST(Config, FlagBeatsEnvironmentEvenWhenTheVariableIsBad) {
  absl::StatusOr<Config> config = Parse({kKeyFlag, "--ping-interval=1m", "--io-threads", "4"},
                                        {"HIVEBRIDGE_PING_INTERVAL=20s", "HIVEBRIDGE_IO_THREADS=lots"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ping_interval, absl::Minutes(1));
  EXPECT_EQ(config->io_threads, 4);
}

// Kubernetes sets HIVEBRIDGE_PORT, HIVEBRIDGE_SERVICE_HOST, ... for a Service
// named hivebridge; they must not stop start-up.
TEST(Config, IgnoresUnknownHivebridgeVariables) {
  EXPECT_TRUE(Parse({kKeyFlag}, {"HIVEBRIDGE_PORT=tcp://10.0.0.1:8080", "HIVEBRIDGE_SERVICE_HOST=10.0.0.1"}).ok());
}

TEST(Config, ParsesDurationsSizesAndCounts) {
  absl::StatusOr<Config> config =
      Parse({kKeyFlag, "--auth-timeout=250ms", "--dedupe-window=5m", "--ping-interval=1h", "--pong-timeout=90s",
             "--max-message-bytes=1MiB", "--max-batch=16", "--max-json-depth", "8", "--event-history=0",
             "--subscriber-queue=1000", "--device-send-queue=1", "--drain-timeout=0", "--max-bad-frames=3"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->auth_timeout, absl::Milliseconds(250));
  EXPECT_EQ(config->dedupe_window, absl::Minutes(5));
  EXPECT_EQ(config->ping_interval, absl::Hours(1));
  EXPECT_EQ(config->pong_timeout, absl::Seconds(90));
  EXPECT_EQ(config->max_message_bytes, 1048576u);
  EXPECT_EQ(config->max_batch, 16u);
  EXPECT_EQ(config->max_json_depth, 8u);
  EXPECT_EQ(config->event_history, 0u);
  EXPECT_EQ(config->subscriber_queue, 1000u);
  EXPECT_EQ(config->device_send_queue, 1u);
  EXPECT_EQ(config->drain_timeout, absl::ZeroDuration());
  EXPECT_EQ(config->max_bad_frames, 3);
  config = Parse({kKeyFlag, "--max-message-bytes=65536"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->max_message_bytes, 65536u);
}

TEST(Config, RejectsMalformedDuration) {
  ExpectInvalid({kKeyFlag, "--ping-interval=abc"},
                R"(--ping-interval: expected a duration such as 30s, 500ms or 1m30s, got "abc")");
  ExpectInvalid({kKeyFlag, "--auth-timeout=10"},
                R"(--auth-timeout: expected a duration such as 30s, 500ms or 1m30s, got "10")");
}

TEST(Config, RejectsDurationOutOfRange) {
  ExpectInvalid({kKeyFlag, "--auth-timeout=-1s"}, "--auth-timeout: must be between 100ms and 10m, got -1s");
  ExpectInvalid({kKeyFlag, "--dedupe-window=48h"}, "--dedupe-window: must be between 1s and 24h, got 48h");
  ExpectInvalid({kKeyFlag, "--drain-timeout=inf"}, "--drain-timeout: must be between 0 and 10m, got inf");
}

TEST(Config, RejectsMalformedOrOutOfRangeSize) {
  ExpectInvalid({kKeyFlag, "--max-message-bytes=10"}, "--max-message-bytes: must be between 1KiB and 64MiB, got 10");
  ExpectInvalid({kKeyFlag, "--max-message-bytes=65MiB"},
                "--max-message-bytes: must be between 1KiB and 64MiB, got 65MiB");
  ExpectInvalid({kKeyFlag, "--max-message-bytes=1MB"},
                R"(--max-message-bytes: expected a size such as 65536, 64KiB or 1MiB, got "1MB")");
  ExpectInvalid({kKeyFlag, "--max-message-bytes=-1KiB"},
                R"(--max-message-bytes: expected a size such as 65536, 64KiB or 1MiB, got "-1KiB")");
}

TEST(Config, RejectsMalformedOrOutOfRangeCount) {
  ExpectInvalid({kKeyFlag, "--io-threads=four"}, R"(--io-threads: expected an integer, got "four")");
  ExpectInvalid({kKeyFlag, "--max-batch=0"}, "--max-batch: must be between 1 and 65536, got 0");
  ExpectInvalid({kKeyFlag, "--subscriber-queue=-5"}, "--subscriber-queue: must be between 1 and 1000000, got -5");
  ExpectInvalid({kKeyFlag, "--max-bad-frames=99999999999999999999"},
                R"(--max-bad-frames: expected an integer, got "99999999999999999999")");
}

TEST(Config, BadVariableIsNamedInTheMessage) {
  ExpectInvalid({kKeyFlag}, R"(HIVEBRIDGE_PONG_TIMEOUT: expected a duration such as 30s, 500ms or 1m30s, got "soon")",
                {"HIVEBRIDGE_PONG_TIMEOUT=soon"});
}

TEST(Config, AcceptsListenAddresses) {
  for (const char* address : {"0.0.0.0:8080", ":8080", "[::]:9090", "[::1]:1", "localhost:65535",
                              "hive-1.example.com:80", "10.1.2.3:443", "127.0.0.1:0"}) {
    SCOPED_TRACE(address);
    absl::StatusOr<Config> config = Parse({kKeyFlag, absl::StrCat("--ws-listen=", address)});
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_EQ(config->ws_listen, address);
  }
}

TEST(Config, RejectsBadListenAddresses) {
  ExpectInvalid({kKeyFlag, "--ws-listen=8080"}, R"(--ws-listen: expected HOST:PORT such as 0.0.0.0:8080, got "8080")");
  ExpectInvalid({kKeyFlag, "--grpc-listen=host:65536"},
                R"(--grpc-listen: port must be between 0 (any free port) and 65535, got "host:65536")");
  ExpectInvalid({kKeyFlag, "--grpc-listen=host:+80"},
                R"(--grpc-listen: port must be between 0 (any free port) and 65535, got "host:+80")");
  ExpectInvalid({kKeyFlag, "--ws-listen=::1:80"},
                R"(--ws-listen: an IPv6 host needs brackets, as in [::]:8080, got "::1:80")");
  ExpectInvalid({kKeyFlag, "--ws-listen=[::1]80"},
                R"(--ws-listen: expected [IPv6]:PORT such as [::]:8080, got "[::1]80")");
  ExpectInvalid({kKeyFlag, "--ws-listen=[nope]:80"},
                R"(--ws-listen: expected [IPv6]:PORT such as [::]:8080, got "[nope]:80")");
  ExpectInvalid({kKeyFlag, "--ws-listen=bad_host:80"},
                R"(--ws-listen: expected a host name or IP address before the port, got "bad_host:80")");
  ExpectInvalid({kKeyFlag, "--ws-listen=999.1.1.1:80"},
                R"(--ws-listen: expected a host name or IP address before the port, got "999.1.1.1:80")");
}

TEST(Config, RequiresExactlyOneJwtKey) {
  ExpectInvalid({}, "one of --jwt-secret-file or --jwt-public-key-file is required to check device tokens");
  ExpectInvalid({kKeyFlag, "--jwt-public-key-file=/k.pem"},
                "--jwt-secret-file and --jwt-public-key-file exclude each other; give one");
}

TEST(Config, RequiresTlsCertAndKeyTogether) {
  ExpectInvalid({kKeyFlag, "--tls-cert=/tls/cert.pem"}, "--tls-cert needs --tls-key");
  ExpectInvalid({kKeyFlag, "--tls-key=/tls/key.pem"}, "--tls-key needs --tls-cert");
  absl::StatusOr<Config> config = Parse({kKeyFlag, "--tls-cert=/tls/cert.pem", "--tls-key=/tls/key.pem"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->tls_cert_file, "/tls/cert.pem");
  EXPECT_EQ(config->tls_key_file, "/tls/key.pem");
}

TEST(Config, TlsReloadIntervalIsOffOrAtLeastASecond) {
  absl::StatusOr<Config> off = Parse({kKeyFlag, "--tls-reload-interval=0"});
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->tls_reload_interval, absl::ZeroDuration());
  absl::StatusOr<Config> second = Parse({kKeyFlag, "--tls-reload-interval=1s"});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->tls_reload_interval, absl::Seconds(1));
  ExpectInvalid({kKeyFlag, "--tls-reload-interval=500ms"},
                "--tls-reload-interval: 0 (only on SIGHUP) or at least 1s, got 500ms");
}

TEST(Config, RequiresPongTimeoutShorterThanPingInterval) {
  ExpectInvalid({kKeyFlag, "--pong-timeout=30s"},
                "--pong-timeout: must be shorter than --ping-interval (30s), got 30s");
  ExpectInvalid({kKeyFlag, "--ping-interval=5s"}, "--pong-timeout: must be shorter than --ping-interval (5s), got 10s");
}

TEST(Config, AcceptsInprocOrAmqpBusWithoutEchoingIt) {
  for (const char* bus : {"inproc", "amqp://guest:guest@rabbit:5672/", "amqps://hive:pw@rabbit/hive"}) {
    absl::StatusOr<Config> config =
        Parse({kKeyFlag, absl::StrCat("--bus=", bus), "--cluster-key-file=/etc/hivebridge/cluster-key"});
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_EQ(config->bus, bus);
  }
  ExpectInvalid({kKeyFlag, "--bus=amqp:/user:secret@rabbit"}, "--bus: expected inproc or an amqp:// or amqps:// URL");
  ExpectInvalid({kKeyFlag, "--bus=amqp://"}, "--bus: expected inproc or an amqp:// or amqps:// URL");
}

TEST(Config, ClusterModeNeedsAKeyOrAnExplicitlyInsecureChoice) {
  ExpectInvalid({kKeyFlag, "--bus=amqp://guest:guest@rabbit:5672/"},
                "--bus=amqp... (cluster mode) needs --cluster-key-file (the key replicas sign their messages with), "
                "or --cluster-insecure-unsigned=true to run without it");
  absl::StatusOr<Config> keyed =
      Parse({kKeyFlag, "--bus=amqp://guest:guest@rabbit:5672/", "--cluster-key-file=/etc/hivebridge/cluster-key"});
  ASSERT_TRUE(keyed.ok()) << keyed.status();
  EXPECT_EQ(keyed->cluster_key_file, "/etc/hivebridge/cluster-key");
  EXPECT_FALSE(keyed->cluster_insecure_unsigned);
  absl::StatusOr<Config> unsigned_bus =
      Parse({kKeyFlag, "--bus=amqp://guest:guest@rabbit:5672/", "--cluster-insecure-unsigned=true"});
  ASSERT_TRUE(unsigned_bus.ok()) << unsigned_bus.status();
  EXPECT_TRUE(unsigned_bus->cluster_insecure_unsigned);
  ExpectInvalid(
      {kKeyFlag, "--bus=amqp://guest:guest@rabbit:5672/", "--cluster-key-file=/k", "--cluster-insecure-unsigned=true"},
      "--cluster-key-file and --cluster-insecure-unsigned=true exclude each other; give one");
  // Outside cluster mode neither is needed.
  EXPECT_TRUE(Parse({kKeyFlag}).ok());
}

TEST(Config, RejectsUnknownLogLevel) {
  ExpectInvalid({kKeyFlag, "--log-level=verbose"},
                R"(--log-level: expected one of debug, info, warn, error, got "verbose")");
  ExpectInvalid({kKeyFlag, "--log-format=xml"}, R"(--log-format: expected logfmt or json, got "xml")");
}

TEST(Config, RejectsUnknownFlagsStrayArgumentsAndMissingValues) {
  ExpectInvalid({kKeyFlag, "--ws-port=80"}, "--ws-port: unknown flag; see --help");
  ExpectInvalid({kKeyFlag, "-v"}, R"(unexpected argument "-v"; see --help)");
  ExpectInvalid({kKeyFlag, "serve"}, R"(unexpected argument "serve"; see --help)");
  ExpectInvalid({kKeyFlag, "--bus"}, "--bus: missing value");
  ExpectInvalid({"--jwt-secret-file", "--bus=inproc"}, "--jwt-secret-file: missing value");
}

TEST(Config, HelpIsReturnedAsCancelled) {
  for (const char* flag : {"--help", "-h"}) {
    absl::StatusOr<Config> config = Parse({flag});
    EXPECT_EQ(config.status(), absl::CancelledError(ConfigHelp()));
  }
  EXPECT_THAT(ConfigHelp(), StartsWith("Usage: hivebridge"));
}

TEST(Config, VersionIsReturnedAsCancelled) {
  EXPECT_EQ(Parse({"--version"}).status(), absl::CancelledError(absl::StrCat("hivebridge ", HIVEBRIDGE_VERSION)));
}

TEST(Config, HelpListsEveryOptionWithItsDefaultAndVariable) {
  const std::string help = ConfigHelp();
  const std::vector<std::string> names = {"ws-listen",
                                          "grpc-listen",
                                          "tls-cert",
                                          "tls-key",
                                          "io-threads",
                                          "jwt-secret-file",
                                          "jwt-public-key-file",
                                          "auth-timeout",
                                          "token-leeway",
                                          "max-message-bytes",
                                          "max-bad-frames",
                                          "max-batch",
                                          "max-json-depth",
                                          "ping-interval",
                                          "pong-timeout",
                                          "default-request-timeout",
                                          "dedupe-window",
                                          "device-send-queue",
                                          "device-send-buffer",
                                          "max-event-bytes",
                                          "event-history",
                                          "event-history-bytes",
                                          "subscriber-queue",
                                          "subscriber-queue-bytes",
                                          "bus",
                                          "replica-id",
                                          "cluster-key-file",
                                          "cluster-insecure-unsigned",
                                          "cluster-buffer-bytes",
                                          "drain-timeout",
                                          "log-level",
                                          "log-format",
                                          "audit-log",
                                          "trace-to-device",
                                          "max-connections",
                                          "max-connections-per-account",
                                          "handshake-timeout",
                                          "idle-timeout",
                                          "device-event-rate",
                                          "device-event-burst",
                                          "max-requests-per-device",
                                          "max-pending-requests",
                                          "max-remembered-requests",
                                          "max-remembered-bytes",
                                          "max-subscribers",
                                          "grpc-tls-cert",
                                          "grpc-tls-key",
                                          "grpc-client-ca",
                                          "tls-reload-interval",
                                          "backend-policy-file",
                                          "max-connect-waiters",
                                          "grpc-max-concurrent-streams",
                                          "grpc-memory-limit",
                                          "grpc-keepalive-time",
                                          "grpc-keepalive-timeout",
                                          "grpc-min-ping-interval",
                                          "grpc-max-ping-strikes",
                                          "grpc-permit-keepalive-without-calls",
                                          "state-dir",
                                          "twin-types",
                                          "max-twins",
                                          "max-twin-bytes",
                                          "max-queue-ttl",
                                          "max-queued-per-device",
                                          "max-queued-requests",
                                          "max-queued-bytes",
                                          "request-retention",
                                          "max-job-devices",
                                          "max-active-jobs",
                                          "job-retention",
                                          "http-listen",
                                          "http-gateway-without-policy",
                                          "http-threads"};
  int option_rows = 0;
  for (absl::string_view line : absl::StrSplit(help, '\n')) {
    if (absl::StartsWith(line, "  --")) ++option_rows;
  }
  EXPECT_EQ(option_rows, static_cast<int>(names.size()) + 2);  // and --help, --version
  for (const std::string& name : names) {
    std::string env = absl::StrCat("HIVEBRIDGE_", name);
    for (char& c : env) c = c == '-' ? '_' : absl::ascii_toupper(static_cast<unsigned char>(c));
    EXPECT_THAT(help, HasSubstr(absl::StrCat("--", name, "="))) << name;
    EXPECT_THAT(help, HasSubstr(absl::StrCat("[env: ", env, "]"))) << name;
  }
  const std::vector<HelpOption> options = HelpOptions(help);
  const auto expect_option = [&](absl::string_view flag, absl::string_view metavar, absl::string_view value) {
    const HelpOption* option = FindOption(options, flag);
    ASSERT_NE(option, nullptr) << flag;
    EXPECT_EQ(option->metavar, metavar) << flag;
    EXPECT_EQ(option->default_value, value) << flag;
  };
  expect_option("ping-interval", "DURATION", "30s");
  expect_option("max-message-bytes", "BYTES", "1MiB");
  expect_option("replica-id", "NAME", "(host name)");
  expect_option("dedupe-window", "DURATION", "5m");
  expect_option("tls-reload-interval", "DURATION", "1m");
  for (const std::string& name : names) {
    const HelpOption* option = FindOption(options, name);
    ASSERT_NE(option, nullptr) << name;
    EXPECT_FALSE(option->default_value.empty()) << name;
  }
}

TEST(Config, GrpcTlsOptionsComeTogetherAndMutualTlsNeedsTls) {
  for (auto [flag, message] : {
           std::pair<std::string, const char*>{"--grpc-tls-cert=c.pem", "--grpc-tls-cert needs --grpc-tls-key"},
           {"--grpc-tls-key=k.pem", "--grpc-tls-key needs --grpc-tls-cert"},
           {"--grpc-client-ca=ca.pem", "--grpc-client-ca needs --grpc-tls-cert and --grpc-tls-key"},
       }) {
    absl::StatusOr<Config> config = Parse({"--jwt-secret-file=/dev/null", flag});
    ASSERT_FALSE(config.ok()) << flag;
    EXPECT_THAT(std::string(config.status().message()), HasSubstr(message));
  }
}

TEST(Config, EveryVariableInTheHelpIsRead) {
  // Setting each documented option through its variable at a non-default
  // value proves the names in --help are the ones the parser reads.
  absl::StatusOr<Config> config = Parse({}, {"HIVEBRIDGE_JWT_SECRET_FILE=/s",
                                             "HIVEBRIDGE_GRPC_LISTEN=:1",
                                             "HIVEBRIDGE_TLS_CERT=/c",
                                             "HIVEBRIDGE_TLS_KEY=/k",
                                             "HIVEBRIDGE_IO_THREADS=2",
                                             "HIVEBRIDGE_AUTH_TIMEOUT=1s",
                                             "HIVEBRIDGE_MAX_BAD_FRAMES=2",
                                             "HIVEBRIDGE_MAX_BATCH=2",
                                             "HIVEBRIDGE_MAX_JSON_DEPTH=2",
                                             "HIVEBRIDGE_PING_INTERVAL=2s",
                                             "HIVEBRIDGE_PONG_TIMEOUT=1s",
                                             "HIVEBRIDGE_DEDUPE_WINDOW=2s",
                                             "HIVEBRIDGE_DEVICE_SEND_QUEUE=2",
                                             "HIVEBRIDGE_EVENT_HISTORY=2",
                                             "HIVEBRIDGE_SUBSCRIBER_QUEUE=2",
                                             "HIVEBRIDGE_BUS=amqp://rabbit",
                                             "HIVEBRIDGE_CLUSTER_KEY_FILE=/ck",
                                             "HIVEBRIDGE_REPLICA_ID=r2",
                                             "HIVEBRIDGE_DRAIN_TIMEOUT=2s",
                                             "HIVEBRIDGE_LOG_LEVEL=warn",
                                             "HIVEBRIDGE_MAX_CONNECTIONS=2",
                                             "HIVEBRIDGE_MAX_CONNECTIONS_PER_ACCOUNT=2",
                                             "HIVEBRIDGE_HANDSHAKE_TIMEOUT=2s",
                                             "HIVEBRIDGE_IDLE_TIMEOUT=3s",
                                             "HIVEBRIDGE_DEVICE_EVENT_RATE=2",
                                             "HIVEBRIDGE_DEVICE_EVENT_BURST=2",
                                             "HIVEBRIDGE_MAX_REQUESTS_PER_DEVICE=2",
                                             "HIVEBRIDGE_MAX_PENDING_REQUESTS=2",
                                             "HIVEBRIDGE_MAX_SUBSCRIBERS=2",
                                             "HIVEBRIDGE_MAX_CONNECT_WAITERS=2",
                                             "HIVEBRIDGE_GRPC_MAX_CONCURRENT_STREAMS=2",
                                             "HIVEBRIDGE_GRPC_MEMORY_LIMIT=32MiB",
                                             "HIVEBRIDGE_GRPC_KEEPALIVE_TIME=2s",
                                             "HIVEBRIDGE_GRPC_KEEPALIVE_TIMEOUT=2s",
                                             "HIVEBRIDGE_GRPC_MIN_PING_INTERVAL=2s",
                                             "HIVEBRIDGE_GRPC_MAX_PING_STRIKES=3",
                                             "HIVEBRIDGE_GRPC_PERMIT_KEEPALIVE_WITHOUT_CALLS=true",
                                             "HIVEBRIDGE_DEVICE_SEND_BUFFER=2MiB",
                                             "HIVEBRIDGE_MAX_EVENT_BYTES=2KiB",
                                             "HIVEBRIDGE_EVENT_HISTORY_BYTES=0",
                                             "HIVEBRIDGE_SUBSCRIBER_QUEUE_BYTES=2KiB",
                                             "HIVEBRIDGE_TLS_RELOAD_INTERVAL=2s"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->grpc_listen, ":1");
  EXPECT_EQ(config->tls_cert_file, "/c");
  EXPECT_EQ(config->tls_key_file, "/k");
  EXPECT_EQ(config->io_threads, 2);
  EXPECT_EQ(config->auth_timeout, absl::Seconds(1));
  EXPECT_EQ(config->max_bad_frames, 2);
  EXPECT_EQ(config->max_batch, 2u);
  EXPECT_EQ(config->max_json_depth, 2u);
  EXPECT_EQ(config->ping_interval, absl::Seconds(2));
  EXPECT_EQ(config->pong_timeout, absl::Seconds(1));
  EXPECT_EQ(config->dedupe_window, absl::Seconds(2));
  EXPECT_EQ(config->device_send_queue, 2u);
  EXPECT_EQ(config->event_history, 2u);
  EXPECT_EQ(config->subscriber_queue, 2u);
  EXPECT_EQ(config->bus, "amqp://rabbit");
  EXPECT_EQ(config->cluster_key_file, "/ck");
  EXPECT_EQ(config->replica_id, "r2");
  EXPECT_EQ(config->drain_timeout, absl::Seconds(2));
  EXPECT_EQ(config->log_level, "warn");
  EXPECT_EQ(config->max_connections, 2u);
  EXPECT_EQ(config->max_connections_per_account, 2u);
  EXPECT_EQ(config->handshake_timeout, absl::Seconds(2));
  EXPECT_EQ(config->idle_timeout, absl::Seconds(3));
  EXPECT_EQ(config->device_event_rate, 2);
  EXPECT_EQ(config->device_event_burst, 2u);
  EXPECT_EQ(config->max_requests_per_device, 2u);
  EXPECT_EQ(config->max_pending_requests, 2u);
  EXPECT_EQ(config->max_subscribers, 2u);
  EXPECT_EQ(config->max_connect_waiters, 2u);
  EXPECT_EQ(config->grpc_max_concurrent_streams, 2);
  EXPECT_EQ(config->grpc_memory_limit, size_t{32} << 20);
  EXPECT_EQ(config->grpc_keepalive_time, absl::Seconds(2));
  EXPECT_EQ(config->grpc_keepalive_timeout, absl::Seconds(2));
  EXPECT_EQ(config->grpc_min_ping_interval, absl::Seconds(2));
  EXPECT_EQ(config->grpc_max_ping_strikes, 3);
  EXPECT_TRUE(config->grpc_permit_keepalive_without_calls);
  EXPECT_EQ(config->device_send_buffer, size_t{2} << 20);
  EXPECT_EQ(config->max_event_bytes, size_t{2} << 10);
  EXPECT_EQ(config->event_history_bytes, 0u);
  EXPECT_EQ(config->subscriber_queue_bytes, size_t{2} << 10);
  EXPECT_EQ(config->tls_reload_interval, absl::Seconds(2));
}

TEST(Config, LimitsHaveSafeDefaults) {
  absl::StatusOr<Config> config = Parse({kKeyFlag});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->max_connections, 100000u);
  EXPECT_EQ(config->max_connections_per_account, 0u);  // no limit: one account may be the whole fleet
  EXPECT_EQ(config->handshake_timeout, absl::Seconds(5));
  EXPECT_EQ(config->idle_timeout, absl::ZeroDuration());  // pings and --pong-timeout find dead connections
  EXPECT_EQ(config->device_event_rate, 100);
  EXPECT_EQ(config->device_event_burst, 1000u);
  EXPECT_EQ(config->max_requests_per_device, 32u);
  EXPECT_EQ(config->max_pending_requests, 10000u);
  EXPECT_EQ(config->max_remembered_requests, 500000u);
  EXPECT_EQ(config->max_remembered_bytes, size_t{64} << 20);
  EXPECT_EQ(config->cluster_buffer_bytes, size_t{64} << 20);
  EXPECT_EQ(config->max_subscribers, 1000u);
  EXPECT_EQ(config->max_connect_waiters, 10000u);
  EXPECT_EQ(config->grpc_max_concurrent_streams, 1000);
  EXPECT_EQ(config->grpc_memory_limit, size_t{1} << 30);
  EXPECT_EQ(config->grpc_keepalive_time, absl::Minutes(1));
  EXPECT_EQ(config->grpc_keepalive_timeout, absl::Seconds(20));
  EXPECT_EQ(config->grpc_min_ping_interval, absl::Seconds(30));
  EXPECT_EQ(config->grpc_max_ping_strikes, 2);
  EXPECT_FALSE(config->grpc_permit_keepalive_without_calls);
  const std::string help = ConfigHelp();
  const std::vector<HelpOption> options = HelpOptions(help);
  for (const auto& [flag, value] : {std::pair<const char*, const char*>{"max-connections", "100000"},
                                    {"idle-timeout", "0"},
                                    {"device-event-rate", "100"},
                                    {"max-connect-waiters", "10000"},
                                    {"grpc-max-concurrent-streams", "1000"},
                                    {"grpc-memory-limit", "1024MiB"},
                                    {"grpc-keepalive-time", "1m"},
                                    {"grpc-min-ping-interval", "30s"}}) {
    const HelpOption* option = FindOption(options, flag);
    ASSERT_NE(option, nullptr) << flag;
    EXPECT_EQ(option->default_value, value) << flag;
  }
}

TEST(Config, RejectsLimitsOutOfRange) {
  ExpectInvalid({kKeyFlag, "--twin-types=telemetry,,gps"},
                "--twin-types: expected event types of 1 to 64 letters, digits, '.', '-' or '_', separated by "
                "commas, got \"\"");
  ExpectInvalid({kKeyFlag, "--twin-types=tele metry"},
                "--twin-types: expected event types of 1 to 64 letters, digits, '.', '-' or '_', separated by "
                "commas, got \"tele metry\"");
  ExpectInvalid({kKeyFlag, "--max-queued-per-device=0"},
                "--max-queued-per-device: must be between 1 and 1000000, got 0");
  ExpectInvalid({kKeyFlag, "--max-connections=0"}, "--max-connections: must be between 1 and 10000000, got 0");
  ExpectInvalid({kKeyFlag, "--device-event-burst=0"}, "--device-event-burst: must be between 1 and 10000000, got 0");
  ExpectInvalid({kKeyFlag, "--device-event-rate=-1"}, "--device-event-rate: must be between 0 and 1000000, got -1");
  ExpectInvalid({kKeyFlag, "--max-requests-per-device=0"},
                "--max-requests-per-device: must be between 1 and 65536, got 0");
  ExpectInvalid({kKeyFlag, "--max-pending-requests=0"},
                "--max-pending-requests: must be between 1 and 10000000, got 0");
  ExpectInvalid({kKeyFlag, "--max-remembered-requests=0"},
                "--max-remembered-requests: must be between 16 and 100000000, got 0");
  ExpectInvalid({kKeyFlag, "--max-subscribers=0"}, "--max-subscribers: must be between 1 and 1000000, got 0");
  ExpectInvalid({kKeyFlag, "--handshake-timeout=10ms"}, "--handshake-timeout: must be between 100ms and 10m, got 10ms");
  ExpectInvalid({kKeyFlag, "--idle-timeout=-1s"}, "--idle-timeout: must be between 0 and 24h, got -1s");
  ExpectInvalid({kKeyFlag, "--max-connect-waiters=0"}, "--max-connect-waiters: must be between 1 and 10000000, got 0");
  ExpectInvalid({kKeyFlag, "--grpc-max-concurrent-streams=0"},
                "--grpc-max-concurrent-streams: must be between 1 and 1000000, got 0");
  ExpectInvalid({kKeyFlag, "--grpc-memory-limit=1MiB"},
                "--grpc-memory-limit: must be between 16MiB and 65536MiB, got 1MiB");
  ExpectInvalid({kKeyFlag, "--grpc-keepalive-time=100ms"},
                "--grpc-keepalive-time: must be between 1s and 24h, got 100ms");
  ExpectInvalid({kKeyFlag, "--grpc-keepalive-timeout=0"}, "--grpc-keepalive-timeout: must be between 1s and 1h, got 0");
  ExpectInvalid({kKeyFlag, "--grpc-min-ping-interval=25h"},
                "--grpc-min-ping-interval: must be between 1s and 24h, got 25h");
  ExpectInvalid({kKeyFlag, "--grpc-max-ping-strikes=-1"},
                "--grpc-max-ping-strikes: must be between 0 and 1000, got -1");
  absl::StatusOr<Config> off = Parse({kKeyFlag, "--device-event-rate=0", "--max-connections-per-account=0"});
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->device_event_rate, 0);
}

// Every field of Config is set by a flag: --help lists one option per field
// (a new field without a flag fails here), and setting every option at a
// non-default value changes every field.
TEST(Config, EveryFieldIsReachableByAFlag) {
  const std::vector<HelpOption> options = HelpOptions(ConfigHelp());
  int with_variable = 0;
  for (const HelpOption& option : options) with_variable += option.env.empty() ? 0 : 1;
  EXPECT_EQ(static_cast<size_t>(with_variable), FieldCount<Config>())
      << "a Config field has no flag, or a flag no field: add it to ServerFlags() and to this test";

  absl::StatusOr<Config> config = Parse({"--ws-listen=127.0.0.1:1",
                                         "--grpc-listen=127.0.0.1:2",
                                         "--tls-cert=/c",
                                         "--tls-key=/k",
                                         "--grpc-tls-cert=/gc",
                                         "--grpc-tls-key=/gk",
                                         "--grpc-client-ca=/ca",
                                         "--tls-reload-interval=3s",
                                         "--backend-policy-file=/p",
                                         "--io-threads=3",
                                         "--http-listen=127.0.0.1:3",
                                         "--http-gateway-without-policy=true",
                                         "--http-threads=3",
                                         "--max-connections=3",
                                         "--max-connections-per-account=3",
                                         "--handshake-timeout=3s",
                                         "--idle-timeout=3m",
                                         "--jwt-public-key-file=/pub",
                                         "--auth-timeout=3s",
                                         "--token-leeway=3s",
                                         "--max-message-bytes=3KiB",
                                         "--max-bad-frames=3",
                                         "--max-batch=3",
                                         "--max-json-depth=3",
                                         "--device-event-rate=3",
                                         "--device-event-burst=3",
                                         "--ping-interval=3m",
                                         "--pong-timeout=3s",
                                         "--default-request-timeout=3s",
                                         "--dedupe-window=3s",
                                         "--device-send-queue=3",
                                         "--device-send-buffer=3MiB",
                                         "--max-event-bytes=3KiB",
                                         "--max-requests-per-device=3",
                                         "--max-pending-requests=3",
                                         "--event-history=3",
                                         "--event-history-bytes=3MiB",
                                         "--subscriber-queue=3",
                                         "--subscriber-queue-bytes=3KiB",
                                         "--max-subscribers=3",
                                         "--max-connect-waiters=3",
                                         "--grpc-max-concurrent-streams=3",
                                         "--grpc-memory-limit=3072MiB",
                                         "--grpc-keepalive-time=3s",
                                         "--grpc-keepalive-timeout=3s",
                                         "--grpc-min-ping-interval=3s",
                                         "--grpc-max-ping-strikes=3",
                                         "--grpc-permit-keepalive-without-calls=true",
                                         "--state-dir=/var/lib/hive3",
                                         "--twin-types=telemetry,gps",
                                         "--max-twins=3",
                                         "--max-twin-bytes=3MiB",
                                         "--max-queue-ttl=3h",
                                         "--max-queued-per-device=3",
                                         "--max-queued-requests=3",
                                         "--max-queued-bytes=3MiB",
                                         "--request-retention=3h",
                                         "--max-job-devices=3",
                                         "--max-active-jobs=3",
                                         "--job-retention=3h",
                                         "--bus=amqp://rabbit",
                                         "--replica-id=r3",
                                         "--cluster-key-file=/etc/hivebridge/cluster-key3",
                                         "--cluster-buffer-bytes=3MiB",
                                         "--drain-timeout=3s",
                                         "--log-level=debug",
                                         "--log-format=json",
                                         "--audit-log=false",
                                         "--trace-to-device=true"});
  ASSERT_TRUE(config.ok()) << config.status();
  Config defaults;
  defaults.replica_id = HostName();
  EXPECT_NE(config->ws_listen, defaults.ws_listen);
  EXPECT_NE(config->grpc_listen, defaults.grpc_listen);
  EXPECT_NE(config->tls_cert_file, defaults.tls_cert_file);
  EXPECT_NE(config->tls_key_file, defaults.tls_key_file);
  EXPECT_NE(config->grpc_tls_cert_file, defaults.grpc_tls_cert_file);
  EXPECT_NE(config->grpc_tls_key_file, defaults.grpc_tls_key_file);
  EXPECT_NE(config->grpc_client_ca_file, defaults.grpc_client_ca_file);
  EXPECT_NE(config->tls_reload_interval, defaults.tls_reload_interval);
  EXPECT_NE(config->backend_policy_file, defaults.backend_policy_file);
  EXPECT_NE(config->io_threads, defaults.io_threads);
  EXPECT_NE(config->http_listen, defaults.http_listen);
  EXPECT_NE(config->http_gateway_without_policy, defaults.http_gateway_without_policy);
  EXPECT_NE(config->http_threads, defaults.http_threads);
  EXPECT_NE(config->max_connections, defaults.max_connections);
  EXPECT_NE(config->max_connections_per_account, defaults.max_connections_per_account);
  EXPECT_NE(config->handshake_timeout, defaults.handshake_timeout);
  EXPECT_NE(config->idle_timeout, defaults.idle_timeout);
  EXPECT_NE(config->jwt_public_key_file, defaults.jwt_public_key_file);
  EXPECT_NE(config->auth_timeout, defaults.auth_timeout);
  EXPECT_NE(config->token_leeway, defaults.token_leeway);
  EXPECT_NE(config->max_message_bytes, defaults.max_message_bytes);
  EXPECT_NE(config->max_bad_frames, defaults.max_bad_frames);
  EXPECT_NE(config->max_batch, defaults.max_batch);
  EXPECT_NE(config->max_json_depth, defaults.max_json_depth);
  EXPECT_NE(config->device_event_rate, defaults.device_event_rate);
  EXPECT_NE(config->device_event_burst, defaults.device_event_burst);
  EXPECT_NE(config->ping_interval, defaults.ping_interval);
  EXPECT_NE(config->pong_timeout, defaults.pong_timeout);
  EXPECT_NE(config->default_request_timeout, defaults.default_request_timeout);
  EXPECT_NE(config->dedupe_window, defaults.dedupe_window);
  EXPECT_NE(config->device_send_queue, defaults.device_send_queue);
  EXPECT_NE(config->device_send_buffer, defaults.device_send_buffer);
  EXPECT_NE(config->max_event_bytes, defaults.max_event_bytes);
  EXPECT_NE(config->max_requests_per_device, defaults.max_requests_per_device);
  EXPECT_NE(config->max_pending_requests, defaults.max_pending_requests);
  EXPECT_NE(config->event_history, defaults.event_history);
  EXPECT_NE(config->event_history_bytes, defaults.event_history_bytes);
  EXPECT_NE(config->subscriber_queue, defaults.subscriber_queue);
  EXPECT_NE(config->subscriber_queue_bytes, defaults.subscriber_queue_bytes);
  EXPECT_NE(config->max_subscribers, defaults.max_subscribers);
  EXPECT_NE(config->max_connect_waiters, defaults.max_connect_waiters);
  EXPECT_NE(config->grpc_max_concurrent_streams, defaults.grpc_max_concurrent_streams);
  EXPECT_NE(config->grpc_memory_limit, defaults.grpc_memory_limit);
  EXPECT_NE(config->grpc_keepalive_time, defaults.grpc_keepalive_time);
  EXPECT_NE(config->grpc_keepalive_timeout, defaults.grpc_keepalive_timeout);
  EXPECT_NE(config->grpc_min_ping_interval, defaults.grpc_min_ping_interval);
  EXPECT_NE(config->grpc_max_ping_strikes, defaults.grpc_max_ping_strikes);
  EXPECT_NE(config->grpc_permit_keepalive_without_calls, defaults.grpc_permit_keepalive_without_calls);
  EXPECT_NE(config->state_dir, defaults.state_dir);
  EXPECT_NE(config->twin_types, defaults.twin_types);
  EXPECT_NE(config->max_twins, defaults.max_twins);
  EXPECT_NE(config->max_twin_bytes, defaults.max_twin_bytes);
  EXPECT_NE(config->max_queue_ttl, defaults.max_queue_ttl);
  EXPECT_NE(config->max_queued_per_device, defaults.max_queued_per_device);
  EXPECT_NE(config->max_queued_requests, defaults.max_queued_requests);
  EXPECT_NE(config->max_queued_bytes, defaults.max_queued_bytes);
  EXPECT_NE(config->request_retention, defaults.request_retention);
  EXPECT_NE(config->max_job_devices, defaults.max_job_devices);
  EXPECT_NE(config->max_active_jobs, defaults.max_active_jobs);
  EXPECT_NE(config->job_retention, defaults.job_retention);
  EXPECT_NE(config->bus, defaults.bus);
  EXPECT_NE(config->replica_id, defaults.replica_id);
  EXPECT_NE(config->cluster_key_file, defaults.cluster_key_file);
  EXPECT_NE(config->cluster_buffer_bytes, defaults.cluster_buffer_bytes);
  EXPECT_NE(config->drain_timeout, defaults.drain_timeout);
  EXPECT_NE(config->log_level, defaults.log_level);
  EXPECT_NE(config->log_format, defaults.log_format);
  EXPECT_NE(config->audit_log, defaults.audit_log);
  EXPECT_NE(config->trace_to_device, defaults.trace_to_device);
  // jwt_secret_file excludes jwt_public_key_file; it is set alone above
  // (DefaultsNeedOnlyAKey) and by its variable (EveryVariableInTheHelpIsRead).
  // cluster_insecure_unsigned excludes cluster_key_file: it is set in
  // ClusterModeNeedsAKeyOrAnExplicitlyInsecureChoice.
}

TEST(Config, EveryHelpLineFitsOneHundredColumns) {
  const std::string help = ConfigHelp();
  for (absl::string_view line : absl::StrSplit(help, '\n')) EXPECT_LE(line.size(), 100u) << line;
  // Every option shows its default and its variable, named after the flag.
  for (const HelpOption& option : HelpOptions(help)) {
    if (option.flag == "help" || option.flag == "version") continue;
    std::string env = absl::StrCat("HIVEBRIDGE_", option.flag);
    for (char& c : env) c = c == '-' ? '_' : absl::ascii_toupper(static_cast<unsigned char>(c));
    EXPECT_EQ(option.env, env) << option.flag;
    EXPECT_FALSE(option.default_value.empty()) << option.flag;
  }
}

TEST(Config, FlagBeatsEnvironmentAndEnvironmentBeatsDefault) {
  absl::StatusOr<Config> config =
      Parse({kKeyFlag, "--max-batch=7"}, {"HIVEBRIDGE_MAX_BATCH=9", "HIVEBRIDGE_EVENT_HISTORY=11"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->max_batch, 7u);
  EXPECT_EQ(config->event_history, 11u);
}

TEST(Config, BoundsAreInclusive) {
  absl::StatusOr<Config> config =
      Parse({kKeyFlag, "--auth-timeout=100ms", "--dedupe-window=24h", "--max-message-bytes=64MiB"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->auth_timeout, absl::Milliseconds(100));
  EXPECT_EQ(config->dedupe_window, absl::Hours(24));
  ExpectInvalid({kKeyFlag, "--auth-timeout=99ms"}, "--auth-timeout: must be between 100ms and 10m, got 99ms");
}

TEST(Config, DurationsTakeEveryUnitForm) {
  absl::StatusOr<Config> config = Parse({kKeyFlag, "--dedupe-window=1m30s", "--auth-timeout", "500ms"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->dedupe_window, absl::Seconds(90));
  EXPECT_EQ(config->auth_timeout, absl::Milliseconds(500));
}

TEST(Config, HttpGatewayIsOffByDefaultAndNeedsAPolicyOrTheExplicitSwitch) {
  absl::StatusOr<Config> config = Parse({kKeyFlag});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->http_listen, "");
  EXPECT_FALSE(config->http_gateway_without_policy);
  ExpectInvalid({kKeyFlag, "--http-listen=127.0.0.1:8081"},
                "--http-listen needs --backend-policy-file (callers present a bearer token), or "
                "--http-gateway-without-policy=true to serve it to anyone who reaches the port");
  ExpectInvalid({kKeyFlag, "--http-listen=8081"},
                R"(--http-listen: expected HOST:PORT such as 0.0.0.0:8080, got "8081")");
  EXPECT_TRUE(Parse({kKeyFlag, "--http-listen=127.0.0.1:8081", "--backend-policy-file=/p"}).ok());
  config = Parse({kKeyFlag, "--http-listen=127.0.0.1:8081", "--http-gateway-without-policy=true"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->http_listen, "127.0.0.1:8081");
}

}  // namespace
}  // namespace hive::server

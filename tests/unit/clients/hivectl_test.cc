// Tests of hivectl's argument parsing: each command line builds exactly the
// request proto the bridge will receive, and bad arguments are usage errors
// whose message names the argument and the problem.
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/support/status.h>

#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "bridge/auth/jwt_authenticator.h"
#include "clients/hivectl/bridge_channel.h"
#include "clients/hivectl/invocation.h"
#include "clients/hivectl/runner.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/support/command_line.h"
#include "tests/unit/support/fake_clock.h"
#include "tests/unit/support/test_keys.h"

namespace hive::ctl {
namespace {

namespace v1 = ::hive::bridge::v1;
using ::testing::HasSubstr;

constexpr char kDevice[] = "d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b";
constexpr char kInstance[] = "ad51b914-688a-4a5f-a073-5c5121a010e2";
constexpr char kAccount[] = "8813b625-e219-4390-9a7b-fe0e22c9e50b";

// `env` holds "NAME=value" entries, as `environ` does.
absl::StatusOr<Invocation> Parse(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  const hive::testing::CommandLine line("hivectl", args, env);
  return ParseInvocation(line.argc(), line.argv(), line.envp());
}

template <typename M>
M Proto(const std::string& text) {
  M message;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &message)) << text;
  return message;
}

template <typename M>
void ExpectProtoEq(const M& actual, const M& expected) {
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(actual, expected))
      << "actual:\n"
      << actual.DebugString() << "expected:\n"
      << expected.DebugString();
}

v1::SendDeviceRequestRequest SendRequest(const std::vector<std::string>& args) {
  absl::StatusOr<Invocation> invocation = Parse(args);
  EXPECT_TRUE(invocation.ok()) << invocation.status();
  if (!invocation.ok()) return {};
  const auto* send = std::get_if<SendCommand>(&invocation->command);
  EXPECT_NE(send, nullptr);
  return send == nullptr ? v1::SendDeviceRequestRequest() : send->request;
}

void ExpectUsageError(const std::vector<std::string>& args, const std::string& message) {
  absl::StatusOr<Invocation> invocation = Parse(args);
  ASSERT_FALSE(invocation.ok());
  EXPECT_EQ(invocation.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(invocation.status().message()), HasSubstr(message));
}

TEST(HivectlOptions, GlobalsHaveDefaultsAndEnvironmentServer) {
  absl::StatusOr<Invocation> plain = Parse({"devices"});
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->global.server, "localhost:9090");
  EXPECT_EQ(plain->global.output, OutputFormat::kTable);
  EXPECT_EQ(plain->global.timeout, absl::Seconds(10));
  EXPECT_FALSE(plain->global.timeout_given);

  absl::StatusOr<Invocation> env = Parse({"devices"}, {"HIVECTL_SERVER=bridge:9999"});
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->global.server, "bridge:9999");

  absl::StatusOr<Invocation> flags =
      Parse({"--server", "10.0.0.1:1234", "devices", "-o", "json", "--timeout=500ms"}, {"HIVECTL_SERVER=bridge:9999"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->global.server, "10.0.0.1:1234");
  EXPECT_EQ(flags->global.output, OutputFormat::kJson);
  EXPECT_EQ(flags->global.timeout, absl::Milliseconds(500));
  EXPECT_TRUE(flags->global.timeout_given);
}

TEST(HivectlOptions, DevicesBuildsListDevicesRequest) {
  absl::StatusOr<Invocation> invocation =
      Parse({"devices", "--account", "8813B625-E219-4390-9A7B-FE0E22C9E50B", "--page-size", "50"});
  ASSERT_TRUE(invocation.ok()) << invocation.status();
  ExpectProtoEq(std::get<ListDevicesCommand>(invocation->command).request,
                Proto<v1::ListDevicesRequest>(absl::StrCat("account_id: \"", kAccount, "\" page_size: 50")));
  ExpectUsageError({"devices", "--page-size", "0"}, "--page-size: expected an integer from 1 to 1000, got \"0\"");
}

TEST(HivectlOptions, DevicesAsksForOfflineOrAllDevicesAndAVersion) {
  absl::StatusOr<Invocation> offline = Parse({"devices", "--offline", "--version", "1.2.3"});
  ASSERT_TRUE(offline.ok()) << offline.status();
  ExpectProtoEq(std::get<ListDevicesCommand>(offline->command).request,
                Proto<v1::ListDevicesRequest>("presence: PRESENCE_OFFLINE version: \"1.2.3\""));
  absl::StatusOr<Invocation> all = Parse({"devices", "--all"});
  ASSERT_TRUE(all.ok()) << all.status();
  ExpectProtoEq(std::get<ListDevicesCommand>(all->command).request,
                Proto<v1::ListDevicesRequest>("presence: PRESENCE_ALL"));
  ExpectUsageError({"devices", "--offline", "--all"}, "--offline: not with --all");
  ExpectUsageError({"devices", "--version", ""}, "--version: expected a version such as 1.2.3, got \"\"");
}

TEST(HivectlOptions, DeviceBuildsGetDeviceRequest) {
  absl::StatusOr<Invocation> invocation = Parse({"device", kDevice});
  ASSERT_TRUE(invocation.ok()) << invocation.status();
  ExpectProtoEq(std::get<GetDeviceCommand>(invocation->command).request,
                Proto<v1::GetDeviceRequest>(absl::StrCat("device_id: \"", kDevice, "\"")));
  ExpectUsageError({"device"}, "missing arguments");
  ExpectUsageError({"device", "not-a-uuid"}, "DEVICE_ID: expected a UUID");
}

TEST(HivectlOptions, SchedulerActionBuildsTheReadmeRequest) {
  ExpectProtoEq(
      SendRequest({"send",
                   kDevice,
                   "scheduler-action",
                   "stop",
                   "--instance",
                   kInstance,
                   "--app",
                   "wikijs",
                   "--appstore",
                   "Fractal App Store",
                   "--version",
                   "latest",
                   "--account",
                   kAccount,
                   "--link",
                   "web=example.org,tok1",
                   "--link",
                   "admin=,tok2",
                   "--wait",
                   "result",
                   "--request-id",
                   "11111111-2222-3333-4444-555555555555",
                   "--connect-timeout",
                   "1500ms"}),
      Proto<v1::SendDeviceRequestRequest>(absl::StrCat(
          "device_id: \"", kDevice, R"(" request_id: "11111111-2222-3333-4444-555555555555" wait: WAIT_MODE_RESULT )",
          "connect_timeout { seconds: 1 nanos: 500000000 } ",
          "command { scheduler_action { action: ACTION_STOP account: \"", kAccount, "\" instance: \"", kInstance,
          R"(" application { appstore: "Fractal App Store" name: "wikijs" version: "latest" } )",
          R"(links { key: "web" value { domain: "example.org" token: "tok1" } } )",
          R"(links { key: "admin" value { domain: "" token: "tok2" } } } })")));
}

TEST(HivectlOptions, SchedulerActionRequiresInstanceAndAppAndKnownAction) {
  ExpectUsageError({"send", kDevice, "scheduler-action", "start", "--app", "wikijs"},
                   "--instance: required by \"hivectl send scheduler-action\"");
  ExpectUsageError({"send", kDevice, "scheduler-action", "start", "--instance", kInstance},
                   "--app: required by \"hivectl send scheduler-action\"");
  ExpectUsageError({"send", kDevice, "scheduler-action", "pause", "--instance", kInstance, "--app", "x"},
                   "scheduler-action: expected start|stop, got \"pause\"");
  ExpectUsageError(
      {"send", kDevice, "scheduler-action", "stop", "--instance", kInstance, "--app", "x", "--link", "web"},
      "--link: expected NAME=DOMAIN,TOKEN");
  ExpectUsageError(
      {"send", kDevice, "scheduler-action", "stop", "--instance", kInstance, "--app", "x", "--wait", "forever"},
      "--wait: expected ack|result|none, got \"forever\"");
}

TEST(HivectlOptions, UpgradeBuildsUpgradeDevice) {
  ExpectProtoEq(SendRequest({"send", kDevice, "upgrade"}),
                Proto<v1::SendDeviceRequestRequest>(absl::StrCat(
                    "device_id: \"", kDevice, "\" command { upgrade_device { action: ACTION_UPGRADE } }")));
  ExpectProtoEq(SendRequest({"send", kDevice, "upgrade", "--version", "2.1", "--force", "--wait", "none"}),
                Proto<v1::SendDeviceRequestRequest>(absl::StrCat(
                    "device_id: \"", kDevice, "\" wait: WAIT_MODE_NONE ",
                    "command { upgrade_device { action: ACTION_UPGRADE version: \"2.1\" force: true } }")));
  ExpectUsageError({"send", kDevice, "upgrade", "--instance", kInstance},
                   "--instance: not an option of \"hivectl send upgrade\"");
}

TEST(HivectlOptions, DeviceCommandBuildsArguments) {
  ExpectProtoEq(
      SendRequest({"send", kDevice, "device-command", "check-disk-space", "--arg", "path=/data", "--arg", "unit="}),
      Proto<v1::SendDeviceRequestRequest>(absl::StrCat(
          "device_id: \"", kDevice, "\" command { device_command { action: ACTION_CHECK_DISK_SPACE arguments { ",
          R"(fields { key: "path" value { string_value: "/data" } } )",
          R"(fields { key: "unit" value { string_value: "" } } } } })")));
  ExpectProtoEq(SendRequest({"send", kDevice, "device-command", "reboot"}),
                Proto<v1::SendDeviceRequestRequest>(
                    absl::StrCat("device_id: \"", kDevice, "\" command { device_command { action: ACTION_REBOOT } }")));
  ExpectUsageError({"send", kDevice, "device-command", "reboot", "--arg", "novalue"},
                   "--arg: expected KEY=VALUE, got \"novalue\"");
  ExpectUsageError({"send", kDevice, "device-command", "format"},
                   "device-command: expected check-disk-space|reboot, got \"format\"");
}

TEST(HivectlOptions, AppInstanceCommandBuildsRequest) {
  ExpectProtoEq(
      SendRequest(
          {"send", kDevice, "app-instance-command", "create-user", "--instance", kInstance, "--arg", "username=alice"}),
      Proto<v1::SendDeviceRequestRequest>(absl::StrCat(
          "device_id: \"", kDevice, "\" command { app_instance_command { action: ACTION_CREATE_USER ", "instance: \"",
          kInstance, R"(" arguments { fields { key: "username" )", "value { string_value: \"alice\" } } } } }")));
  ExpectUsageError({"send", kDevice, "app-instance-command", "configure"},
                   "--instance: required by \"hivectl send app-instance-command\"");
}

TEST(HivectlOptions, RawParsesPayloadJsonInlineAndFromFile) {
  const std::string expected =
      absl::StrCat("device_id: \"", kDevice, R"(" command { raw { command: "SchedulerAction.stop" payload { )",
                   R"(fields { key: "instance" value { string_value: "x" } } )",
                   "fields { key: \"n\" value { number_value: 3 } } } } }");
  ExpectProtoEq(SendRequest({"send", kDevice, "raw", "SchedulerAction.stop", "--payload", R"({"instance":"x","n":3})"}),
                Proto<v1::SendDeviceRequestRequest>(expected));

  const std::string path = ::testing::TempDir() + "/hivectl_payload.json";
  std::ofstream(path) << R"({"instance": "x", "n": 3})";
  ExpectProtoEq(SendRequest({"send", kDevice, "raw", "SchedulerAction.stop", "--payload", "@" + path}),
                Proto<v1::SendDeviceRequestRequest>(expected));
  std::remove(path.c_str());

  ExpectUsageError({"send", kDevice, "raw", "SchedulerAction.stop", "--payload", "[1,2]"},
                   "--payload: expected a JSON object");
  ExpectUsageError({"send", kDevice, "raw", "SchedulerAction.stop", "--payload", "@/nonexistent/p.json"},
                   "--payload: cannot read \"/nonexistent/p.json\"");
  ExpectUsageError({"send", kDevice, "raw", "stop"}, "raw: expected a wire command KIND.ACTION");
}

TEST(HivectlOptions, QueueTtlQueuesTheRequest) {
  ExpectProtoEq(SendRequest({"send", kDevice, "upgrade", "--queue-ttl", "1h"}),
                Proto<v1::SendDeviceRequestRequest>(absl::StrCat(
                    "device_id: \"", kDevice,
                    R"(" queue_ttl { seconds: 3600 } command { upgrade_device { action: ACTION_UPGRADE } })")));
  ExpectUsageError({"send", kDevice, "upgrade", "--queue-ttl", "0s"}, "--queue-ttl: expected a positive duration");
  ExpectUsageError({"send", kDevice, "upgrade", "--queue-ttl", "3600"}, "--queue-ttl: expected a duration");
}

TEST(HivectlOptions, RequestAndCancelTakeARequestId) {
  const std::string id = "11111111-2222-3333-4444-555555555555";
  absl::StatusOr<Invocation> request = Parse({"request", id});
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(std::get<GetRequestCommand>(request->command).request.request_id(), id);
  absl::StatusOr<Invocation> cancel = Parse({"cancel", id});
  ASSERT_TRUE(cancel.ok()) << cancel.status();
  EXPECT_EQ(std::get<CancelRequestCommand>(cancel->command).request.request_id(), id);
  ExpectUsageError({"request"}, "hivectl request REQUEST_ID: missing arguments");
  ExpectUsageError({"cancel", "nope"}, "REQUEST_ID: expected a UUID");
}

TEST(HivectlOptions, HealthAsksForTheServerOrOneService) {
  absl::StatusOr<Invocation> server = Parse({"health"});
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(std::get<HealthCommand>(server->command).service, "");
  absl::StatusOr<Invocation> service =
      Parse({"health", "--service", "hive.bridge.v1.DeviceBridge", "--server", "10.0.0.1:9090"});
  ASSERT_TRUE(service.ok()) << service.status();
  EXPECT_EQ(std::get<HealthCommand>(service->command).service, "hive.bridge.v1.DeviceBridge");
  EXPECT_EQ(service->global.server, "10.0.0.1:9090");
  ExpectUsageError({"health", "extra"}, "hivectl health [--service NAME]: unexpected argument \"extra\"");
  ExpectUsageError({"health", "--account", kAccount}, "--account: not an option of \"hivectl health\"");
  ExpectUsageError({"health", "--service"}, "--service: missing value");
  absl::StatusOr<Invocation> help = Parse({"health", "--help"});
  ASSERT_TRUE(absl::IsCancelled(help.status()));
  EXPECT_THAT(std::string(help.status().message()), HasSubstr("Exit 0 only when SERVING"));
  EXPECT_THAT(HivectlHelp(), HasSubstr("health        ask the bridge's gRPC health service"));
}

TEST(HivectlOptions, VersionBeforeACommandIsCancelledWithTheProjectsVersion) {
  const std::string version = absl::StrCat("hivectl ", HIVEBRIDGE_VERSION);
  EXPECT_EQ(HivectlVersion(), version);
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--version"}, {"--server", "127.0.0.1:1", "--version"}, {"-o", "json", "--version", "devices"}}) {
    absl::StatusOr<Invocation> invocation = Parse(args);
    EXPECT_EQ(invocation.status(), absl::CancelledError(version + "\n")) << args[0];
  }
  EXPECT_THAT(HivectlHelp(), HasSubstr("--version "));
  // After a command, --version is that command's option, or not one.
  absl::StatusOr<Invocation> devices = Parse({"devices", "--version", "1.2.3"});
  ASSERT_TRUE(devices.ok()) << devices.status();
  EXPECT_EQ(std::get<ListDevicesCommand>(devices->command).request.version(), "1.2.3");
  ExpectUsageError({"health", "--version"}, "--version: not an option of \"hivectl health\"");
  ExpectUsageError({"cancel", "--version", "11111111-2222-3333-4444-555555555555"},
                   "--version: not an option of \"hivectl cancel\"");
}

TEST(HivectlOptions, SubscribeBuildsFiltersResumeAndCount) {
  absl::StatusOr<Invocation> invocation =
      Parse({"subscribe", "--account", kAccount, "--device", kDevice, "--type", "device-state", "--type", "instances",
             "--resume", "ep:och:42", "--count", "3"});
  ASSERT_TRUE(invocation.ok()) << invocation.status();
  const auto& subscribe = std::get<SubscribeCommand>(invocation->command);
  EXPECT_EQ(subscribe.count, 3);
  ExpectProtoEq(subscribe.request,
                Proto<v1::SubscribeEventsRequest>(absl::StrCat(
                    "account_ids: \"", kAccount, "\" device_ids: \"", kDevice, R"(" types: "device-state" )",
                    R"(types: "instances" resume_after { epoch: "ep:och" sequence: 42 })")));
  ExpectUsageError({"subscribe", "--resume", "42"}, "--resume: expected EPOCH:SEQUENCE");
  ExpectUsageError({"subscribe", "--count", "0"}, "--count: expected an integer from 1");
}

TEST(HivectlOptions, BadCommandLinesAreUsageErrors) {
  ExpectUsageError({}, "missing COMMAND");
  ExpectUsageError({"reboot"},
                   "COMMAND: expected devices|device|send|request|cancel|subscribe|health|token|job, got \"reboot\"");
  ExpectUsageError({"devices", "--bogus"}, "--bogus: unknown option");
  ExpectUsageError({"devices", "--page-size"}, "--page-size: missing value");
  ExpectUsageError({"devices", "--instance", kInstance}, "--instance: not an option of \"hivectl devices\"");
  ExpectUsageError({"-o", "yaml", "devices"}, "--output: expected table|json, got \"yaml\"");
  ExpectUsageError({"--timeout", "soon", "devices"}, "--timeout: expected a duration");
  ExpectUsageError({"--server", "nohost", "devices"}, "--server: expected HOST:PORT");
  ExpectUsageError({"send", kDevice, "teleport"}, "KIND: expected scheduler-action|upgrade|device-command");
  ExpectUsageError({"send", "nope", "upgrade"}, "DEVICE: expected a UUID");
  ExpectUsageError({"send", kDevice, "upgrade", "--version", "1", "--version", "2"}, "--version: given twice");
}

TEST(HivectlOptions, HelpIsCancelledWithTheHelpTextOfTheCommandItFollows) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--help"}, {"-h"}, {"help"}, {"--server", "devices", "--help"}}) {
    absl::StatusOr<Invocation> invocation = Parse(args);
    ASSERT_TRUE(absl::IsCancelled(invocation.status())) << args[0];
    EXPECT_THAT(std::string(invocation.status().message()), HasSubstr("15 NOT_FOUND"));
    EXPECT_THAT(std::string(invocation.status().message()), HasSubstr("--server=HOST:PORT"));
    EXPECT_THAT(std::string(invocation.status().message()), HasSubstr("[env: HIVECTL_TOKEN]"));
  }
  absl::StatusOr<Invocation> send = Parse({"send", kDevice, "upgrade", "--help"});
  ASSERT_TRUE(absl::IsCancelled(send.status()));
  EXPECT_THAT(std::string(send.status().message()), HasSubstr("Usage: hivectl send DEVICE KIND"));
  EXPECT_THAT(std::string(send.status().message()), HasSubstr("--wait=ack|result|none"));
  absl::StatusOr<Invocation> token = Parse({"token", "-h"});
  ASSERT_TRUE(absl::IsCancelled(token.status()));
  EXPECT_THAT(std::string(token.status().message()), HasSubstr("--expires-in=DURATION"));
}

TEST(HivectlOptions, EveryHelpFitsOneHundredColumns) {
  for (const std::string command : {"", "devices", "device", "send", "subscribe", "health", "token", "job"}) {
    const std::string help = HivectlHelp(command);
    EXPECT_THAT(help, HasSubstr("Usage: hivectl")) << command;
    std::istringstream lines(help);
    for (std::string line; std::getline(lines, line);) {
      EXPECT_LE(line.size(), 100u) << "hivectl " << command << " --help: " << line;
    }
  }
}

TEST(HivectlOptions, DurationsCarryAUnitEverywhere) {
  ExpectUsageError({"devices", "--timeout", "30"},
                   "--timeout: expected a duration such as 30s, 500ms or 1m30s, got \"30\"");
  ExpectUsageError({"send", kDevice, "upgrade", "--connect-timeout", "2"}, "--connect-timeout: expected a duration");
  ExpectUsageError(
      {"token", "--jwt-secret-file", "/s", "--device-id", kDevice, "--account", kAccount, "--expires-in", "3600"},
      "--expires-in: expected a duration");
  absl::StatusOr<Invocation> minutes = Parse({"devices", "--timeout", "1m30s"});
  ASSERT_TRUE(minutes.ok()) << minutes.status();
  EXPECT_EQ(minutes->global.timeout, absl::Seconds(90));
}

TEST(HivectlOptions, EveryGlobalOptionFallsBackToItsVariable) {
  absl::StatusOr<Invocation> env =
      Parse({"devices"},
            {"HIVECTL_SERVER=bridge:1", "HIVECTL_OUTPUT=json", "HIVECTL_TIMEOUT=2s", "HIVECTL_CA=ca.pem",
             "HIVECTL_CERT=c.pem", "HIVECTL_KEY=c.key", "HIVECTL_SERVER_NAME=bridge.internal", "HIVECTL_TOKEN=t"});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->global.server, "bridge:1");
  EXPECT_EQ(env->global.output, OutputFormat::kJson);
  EXPECT_EQ(env->global.timeout, absl::Seconds(2));
  EXPECT_TRUE(env->global.timeout_given);
  EXPECT_TRUE(env->global.tls);
  EXPECT_EQ(env->global.ca_file, "ca.pem");
  EXPECT_EQ(env->global.cert_file, "c.pem");
  EXPECT_EQ(env->global.key_file, "c.key");
  EXPECT_EQ(env->global.server_name, "bridge.internal");
  EXPECT_EQ(env->global.token, "t");

  absl::StatusOr<Invocation> tls = Parse({"devices"}, {"HIVECTL_TLS=true"});
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_TRUE(tls->global.tls);

  // A bad variable names itself; one its flag overrides is never read.
  absl::StatusOr<Invocation> bad = Parse({"devices"}, {"HIVECTL_TIMEOUT=30"});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("HIVECTL_TIMEOUT: expected a duration"));
  EXPECT_TRUE(Parse({"devices", "--timeout=30s"}, {"HIVECTL_TIMEOUT=30"}).ok());
}

std::string WriteTemp(const std::string& name, const std::string& contents) {
  std::string path = ::testing::TempDir() + "/hivectl_" + name;
  std::ofstream(path) << contents;
  return path;
}

TEST(HivectlOptions, TlsIsOffUnlessAskedForAndCaOrCertImplyIt) {
  absl::StatusOr<Invocation> plain = Parse({"devices"});
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_FALSE(plain->global.tls);
  EXPECT_EQ(plain->global.token, "");

  absl::StatusOr<Invocation> system_roots = Parse({"--tls", "devices"});
  ASSERT_TRUE(system_roots.ok()) << system_roots.status();
  EXPECT_TRUE(system_roots->global.tls);
  EXPECT_EQ(system_roots->global.ca_file, "");

  absl::StatusOr<Invocation> mtls =
      Parse({"devices", "--ca", "ca.pem", "--cert=ops.pem", "--key", "ops.key", "--server-name", "localhost"});
  ASSERT_TRUE(mtls.ok()) << mtls.status();
  EXPECT_TRUE(mtls->global.tls);
  EXPECT_EQ(mtls->global.ca_file, "ca.pem");
  EXPECT_EQ(mtls->global.cert_file, "ops.pem");
  EXPECT_EQ(mtls->global.key_file, "ops.key");
  EXPECT_EQ(mtls->global.server_name, "localhost");

  ExpectUsageError({"devices", "--cert", "ops.pem"}, "--cert: needs --key");
  ExpectUsageError({"devices", "--key", "ops.key"}, "--key: needs --cert");
  ExpectUsageError({"devices", "--server-name", "localhost"}, "--server-name: needs TLS");
  ExpectUsageError({"devices", "--ca", ""}, "--ca: expected a value");
}

TEST(HivectlOptions, TokenFlagBeatsTheEnvironment) {
  absl::StatusOr<Invocation> env = Parse({"devices"}, {"HIVECTL_TOKEN=from-env"});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->global.token, "from-env");
  absl::StatusOr<Invocation> flag = Parse({"devices", "--token", "from-flag"}, {"HIVECTL_TOKEN=from-env"});
  ASSERT_TRUE(flag.ok()) << flag.status();
  EXPECT_EQ(flag->global.token, "from-flag");
}

TEST(HivectlChannel, UnusablePemFilesAreUsageErrorsNamingTheFlagAndTheFile) {
  const std::string junk = WriteTemp("junk.pem", "not a certificate\n");
  GlobalOptions global;
  global.tls = true;
  global.ca_file = "/nonexistent/ca.pem";
  EXPECT_EQ(OpenBridgeChannel(global).status(),
            absl::InvalidArgumentError("--ca: /nonexistent/ca.pem: cannot read the file"));
  global.ca_file = junk;
  EXPECT_THAT(std::string(OpenBridgeChannel(global).status().message()),
              HasSubstr(absl::StrCat("--ca: ", junk, ": holds no PEM CA certificate")));
  global.ca_file = "";
  global.cert_file = junk;
  global.key_file = "/nonexistent/client.key";
  EXPECT_EQ(OpenBridgeChannel(global).status(),
            absl::InvalidArgumentError("--key: /nonexistent/client.key: cannot read the file"));
  global.key_file = junk;
  EXPECT_THAT(std::string(OpenBridgeChannel(global).status().message()),
              HasSubstr(absl::StrCat("--cert: ", junk, ": not a PEM certificate chain")));
  std::remove(junk.c_str());

  GlobalOptions plaintext;
  EXPECT_TRUE(OpenBridgeChannel(plaintext).ok());
}

TEST(HivectlToken, ParsesTheSecretFileDeviceAccountAndLifetime) {
  absl::StatusOr<Invocation> invocation =
      Parse({"token", "--jwt-secret-file", "/s", "--device-id", kDevice, "--account", kAccount, "--expires-in", "2h"});
  ASSERT_TRUE(invocation.ok()) << invocation.status();
  const auto& token = std::get<TokenCommand>(invocation->command);
  EXPECT_EQ(token.secret_file, "/s");
  EXPECT_EQ(token.device_id, kDevice);
  EXPECT_EQ(token.account_id, kAccount);
  EXPECT_EQ(token.expires_in, absl::Hours(2));

  absl::StatusOr<Invocation> defaults =
      Parse({"token", "--jwt-secret-file=/s", "--device-id", kDevice, "--account", kAccount});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(std::get<TokenCommand>(defaults->command).expires_in, absl::Hours(1));

  ExpectUsageError({"token", "--device-id", kDevice, "--account", kAccount}, "--jwt-secret-file: required");
  ExpectUsageError({"token", "--jwt-secret-file", "/s", "--account", kAccount}, "--device-id: required");
  ExpectUsageError({"token", "--jwt-secret-file", "/s", "--device-id", kDevice}, "--account: required");
  ExpectUsageError({"token", "--jwt-secret-file", "/s", "--device-id", "d1", "--account", kAccount},
                   "--device-id: expected a UUID");
  ExpectUsageError(
      {"token", "--jwt-secret-file", "/s", "--device-id", kDevice, "--account", kAccount, "--expires-in", "-1h"},
      "--expires-in: expected");
  ExpectUsageError(
      {"token", "--jwt-secret-file", "/s", "--device-id", kDevice, "--account", kAccount, "--expires-in", "0s"},
      "--expires-in: expected a positive duration");
}

TEST(HivectlToken, PrintsOnlyATokenTheBridgeAcceptsForTheDevice) {
  const std::string secret(40, 's');
  const std::string path = WriteTemp("secret", secret + "\n");  // the bridge drops the newline; so does hivectl
  testing::FakeClock clock;
  std::ostringstream out, err;
  ASSERT_EQ(
      RunToken({.secret_file = path, .device_id = kDevice, .account_id = kAccount, .expires_in = absl::Minutes(10)},
               clock, out, err),
      0)
      << err.str();
  EXPECT_EQ(err.str(), "");
  std::string token = out.str();
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(token.back(), '\n');
  token.pop_back();
  EXPECT_EQ(token.find_first_of(" \n"), std::string::npos);

  auto authenticator = JwtAuthenticator::FromHs256Secret(secret, clock);
  ASSERT_TRUE(authenticator.ok()) << authenticator.status();
  absl::StatusOr<DeviceIdentity> identity = (*authenticator)->Authenticate(token);
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(identity->device_id, kDevice);
  EXPECT_EQ(identity->account_id, kAccount);
  EXPECT_EQ(identity->expires_at, clock.Now() + absl::Minutes(10));
  auto other = JwtAuthenticator::FromHs256Secret(std::string(40, 'x'), clock);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE((*other)->Authenticate(token).ok());
  std::remove(path.c_str());

  std::ostringstream no_out, no_err;
  EXPECT_EQ(RunToken({.secret_file = "/nonexistent/secret", .device_id = kDevice, .account_id = kAccount}, clock,
                     no_out, no_err),
            kExitUsage);
  EXPECT_EQ(no_out.str(), "");
  EXPECT_EQ(no_err.str(), "hivectl: --jwt-secret-file: cannot read /nonexistent/secret\n");
}

TEST(HivectlToken, SignsWithThePrivateKeyOfABridgeThatChecksRs256OrEs256) {
  testing::FakeClock clock;
  for (const testing::TestKeyPair* key : {&testing::RsaTestKey(), &testing::EcTestKey()}) {
    const std::string path = WriteTemp("private.pem", key->private_pem);
    std::ostringstream out, err;
    ASSERT_EQ(RunToken({.private_key_file = path, .device_id = kDevice, .account_id = kAccount}, clock, out, err), 0)
        << err.str();
    auto authenticator = JwtAuthenticator::FromPublicKeyPem(key->public_pem, clock);
    ASSERT_TRUE(authenticator.ok()) << authenticator.status();
    std::string token = out.str();
    token.pop_back();  // the newline
    absl::StatusOr<DeviceIdentity> identity = (*authenticator)->Authenticate(token);
    ASSERT_TRUE(identity.ok()) << identity.status();
    EXPECT_EQ(identity->device_id, kDevice);
    EXPECT_EQ(identity->expires_at, clock.Now() + absl::Hours(1));
    std::remove(path.c_str());
  }

  // A key the bridge would not take the public half of is refused, naming the flag and the file.
  const std::string small = WriteTemp("small.pem", testing::GenerateRsaKey(1024).private_pem);
  std::ostringstream out, err;
  EXPECT_EQ(RunToken({.private_key_file = small, .device_id = kDevice, .account_id = kAccount}, clock, out, err),
            kExitUsage);
  EXPECT_EQ(err.str(),
            absl::StrCat("hivectl: --jwt-private-key-file: ", small, ": an RSA key needs 2048 bits or more\n"));
  std::remove(small.c_str());

  ExpectUsageError({"token", "--jwt-secret-file", "/s", "--jwt-private-key-file", "/k", "--device-id", kDevice,
                    "--account", kAccount},
                   "--jwt-secret-file: excludes --jwt-private-key-file");
  absl::StatusOr<Invocation> parsed =
      Parse({"token", "--jwt-private-key-file", "/k", "--device-id", kDevice, "--account", kAccount});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(std::get<TokenCommand>(parsed->command).private_key_file, "/k");
  EXPECT_EQ(std::get<TokenCommand>(parsed->command).secret_file, "");
}

constexpr char kJob[] = "5f0c1b2a-3d4e-4f60-8a7b-9c0d1e2f3a4b";

v1::StartJobRequest StartJobRequest(const std::vector<std::string>& args) {
  absl::StatusOr<Invocation> invocation = Parse(args);
  EXPECT_TRUE(invocation.ok()) << invocation.status();
  if (!invocation.ok()) return {};
  EXPECT_TRUE(IsJobCommand(invocation->command));
  const auto* start = std::get_if<StartJobCommand>(&invocation->command);
  EXPECT_NE(start, nullptr);
  return start == nullptr ? v1::StartJobRequest() : start->request;
}

TEST(HivectlJob, StartBuildsTheCommandAsSendDoesWithASelectorAndARollout) {
  ExpectProtoEq(StartJobRequest({"job",
                                 "start",
                                 "upgrade",
                                 "--command-version",
                                 "2.0.0",
                                 "--force",
                                 "--account",
                                 kAccount,
                                 "--presence",
                                 "online",
                                 "--version",
                                 "1.0.0",
                                 "--field",
                                 R"(device-state.state.mode="eco")",
                                 "--field",
                                 "instances.count=3",
                                 "--rate",
                                 "2.5",
                                 "--max-in-flight",
                                 "10",
                                 "--wave",
                                 "10:5m",
                                 "--wave",
                                 "100",
                                 "--abort-window",
                                 "50",
                                 "--abort-ratio",
                                 "0.2",
                                 "--include-joining",
                                 "--queue-ttl",
                                 "1h",
                                 "--wait",
                                 "result",
                                 "--job-id",
                                 kJob,
                                 "--description",
                                 "to 2.0.0",
                                 "--dry-run"}),
                Proto<v1::StartJobRequest>(absl::StrCat(
                    "job_id: \"", kJob, "\" target { selector { account_id: \"", kAccount, "\" ",
                    R"(presence: PRESENCE_ONLINE version: "1.0.0" )",
                    R"(fields { event_type: "device-state" path: "state.mode" equals { string_value: "eco" } } )",
                    R"(fields { event_type: "instances" path: "count" equals { number_value: 3 } } } } )",
                    R"(command { upgrade_device { action: ACTION_UPGRADE version: "2.0.0" force: true } } )",
                    R"(wait: WAIT_MODE_RESULT queue_ttl { seconds: 3600 } )",
                    R"(rollout { max_rate: 2.5 max_in_flight: 10 waves { percent: 10 pause_after { seconds: 300 } } )",
                    R"(waves { percent: 100 } abort { window: 50 max_failure_ratio: 0.2 } include_joining: true } )",
                    R"(dry_run: true description: "to 2.0.0")")));
}

TEST(HivectlJob, StartTakesADeviceListAndEveryKindOfSend) {
  ExpectProtoEq(StartJobRequest({"job", "start", "scheduler-action", "stop", "--instance", kInstance, "--app", "wikijs",
                                 "--command-account", kAccount, "--device", kDevice, "--device", kInstance, "--rate",
                                 "1", "--queue-ttl", "10s"}),
                Proto<v1::StartJobRequest>(
                    absl::StrCat("target { devices { device_ids: \"", kDevice, "\" device_ids: \"", kInstance,
                                 "\" } } ", "command { scheduler_action { action: ACTION_STOP instance: \"", kInstance,
                                 R"(" application { name: "wikijs" } account: ")", kAccount, "\" } } ",
                                 "queue_ttl { seconds: 10 } rollout { max_rate: 1 }")));
  const v1::StartJobRequest raw = StartJobRequest({"job", "start", "raw", "Custom.ping", "--payload", R"({"a":1})",
                                                   "--presence", "all", "--rate", "1", "--queue-ttl", "1s"});
  EXPECT_EQ(raw.command().raw().command(), "Custom.ping");
  EXPECT_EQ(raw.target().selector().presence(), v1::PRESENCE_ALL);
  const v1::StartJobRequest reboot = StartJobRequest({"job", "start", "device-command", "reboot", "--arg", "delay=5",
                                                      "--device", kDevice, "--rate", "1", "--queue-ttl", "1m"});
  EXPECT_EQ(reboot.command().device_command().action(), v1::DeviceCommand::ACTION_REBOOT);
}

TEST(HivectlJob, StartRefusesWhatTheServerWouldRefuseForShape) {
  const std::vector<std::string> ok_tail = {"--device", kDevice, "--rate", "1", "--queue-ttl", "1m"};
  auto with = [&](std::vector<std::string> head, std::vector<std::string> extra = {}) {
    head.insert(head.end(), ok_tail.begin(), ok_tail.end());
    head.insert(head.end(), extra.begin(), extra.end());
    return head;
  };
  ExpectUsageError({"job"}, "hivectl job ACTION: missing arguments");
  ExpectUsageError({"job", "launch"}, "job ACTION: expected start|get|ls|cancel|watch, got \"launch\"");
  ExpectUsageError({"job", "start"}, "hivectl job start KIND ACTION: missing arguments");
  ExpectUsageError({"job", "start", "teleport"}, "KIND: expected scheduler-action|upgrade");
  ExpectUsageError({"job", "start", "upgrade", "--rate", "1", "--queue-ttl", "1m"}, "which devices?");
  ExpectUsageError(with({"job", "start", "upgrade"}, {"--account", kAccount}), "--device: names the devices; not");
  ExpectUsageError({"job", "start", "upgrade", "--device", "nope", "--rate", "1", "--queue-ttl", "1m"},
                   "--device: expected a UUID");
  ExpectUsageError({"job", "start", "upgrade", "--account", "nope", "--rate", "1", "--queue-ttl", "1m"},
                   "--account: expected a UUID");
  ExpectUsageError({"job", "start", "upgrade", "--device", kDevice, "--queue-ttl", "1m"},
                   "--rate: required by \"hivectl job start\"");
  ExpectUsageError({"job", "start", "upgrade", "--device", kDevice, "--rate", "1"},
                   "--queue-ttl: required by \"hivectl job start\"");
  ExpectUsageError({"job", "start", "upgrade", "--device", kDevice, "--rate", "0", "--queue-ttl", "1m"},
                   "--rate: expected devices per second above 0, got \"0\"");
  ExpectUsageError({"job", "start", "upgrade", "--device", kDevice, "--rate", "fast", "--queue-ttl", "1m"},
                   "--rate: expected a number");
  ExpectUsageError({"job", "start", "upgrade", "--device", kDevice, "--rate", "1", "--queue-ttl", "500ms"},
                   "--queue-ttl: expected a duration of at least 1s");
  ExpectUsageError(with({"job", "start", "upgrade"}, {"--wave", "10%"}), "--wave: expected PERCENT[:PAUSE]");
  ExpectUsageError(with({"job", "start", "upgrade"}, {"--wave", "0"}), "--wave: expected PERCENT[:PAUSE]");
  ExpectUsageError(with({"job", "start", "upgrade"}, {"--wave", "150"}), "--wave: expected PERCENT[:PAUSE]");
  ExpectUsageError(with({"job", "start", "upgrade"}, {"--wave", "10:soon", "--wave", "100"}),
                   "--wave: expected a duration");
  ExpectUsageError(with({"job", "start", "upgrade"}, {"--wave", "50", "--wave", "10", "--wave", "100"}),
                   "--wave: percents must ascend");
  ExpectUsageError(with({"job", "start", "upgrade"}, {"--wave", "10", "--wave", "50"}),
                   "--wave: the last wave must reach 100");
  ExpectUsageError(with({"job", "start", "upgrade"}, {"--abort-ratio", "1"}),
                   "--abort-ratio: expected a share between 0 and 1, exclusive");
  ExpectUsageError(with({"job", "start", "upgrade"}, {"--abort-ratio", "0"}), "--abort-ratio: expected a share");
  ExpectUsageError(with({"job", "start", "upgrade"}, {"--abort-window", "5"}), "--abort-window: needs --abort-ratio");
  ExpectUsageError(with({"job", "start", "upgrade"}, {"--abort-window", "0", "--abort-ratio", "0.5"}),
                   "--abort-window: expected an integer from 1");
  ExpectUsageError(with({"job", "start", "upgrade"}, {"--max-in-flight", "0"}),
                   "--max-in-flight: expected an integer from 1");
  ExpectUsageError({"job", "start", "upgrade", "--presence", "maybe", "--rate", "1", "--queue-ttl", "1m"},
                   "--presence: expected online|offline|all, got \"maybe\"");
  ExpectUsageError({"job", "start", "upgrade", "--field", "device-state.mode=eco", "--rate", "1", "--queue-ttl", "1m"},
                   "--field: expected a JSON value after '='");
  ExpectUsageError({"job", "start", "upgrade", "--field", "mode=1", "--rate", "1", "--queue-ttl", "1m"},
                   "--field: expected TYPE.PATH=JSON");
  ExpectUsageError({"job", "start", "upgrade", "--field", "device-state.mode", "--rate", "1", "--queue-ttl", "1m"},
                   "--field: expected TYPE.PATH=JSON");
  ExpectUsageError(with({"job", "start", "upgrade"}, {"--wait", "soon"}), "--wait: expected ack|result|none");
  ExpectUsageError(with({"job", "start", "upgrade"}, {"--job-id", "42"}), "--job-id: expected a UUID");
  ExpectUsageError(with({"job", "start", "upgrade"}, {"--description", std::string(257, 'x')}),
                   "--description: at most 256 bytes, got 257");
  ExpectUsageError(with({"job", "start", "upgrade"}, {"--payload", "{}"}),
                   "--payload: not an option of \"hivectl job start upgrade\"");
  ExpectUsageError(with({"job", "start", "upgrade"}, {"--resume-after", "3"}),
                   "--resume-after: not an option of \"hivectl job start upgrade\"");
  ExpectUsageError(with({"job", "start", "raw", "Custom.ping"}, {"--payload", "[1"}),
                   "--payload: expected a JSON object");
  ExpectUsageError(with({"job", "start", "scheduler-action", "stop"}, {"--app", "x"}),
                   "--instance: required by \"hivectl job start scheduler-action\"");
}

TEST(HivectlJob, GetLsCancelAndWatchBuildTheirRequests) {
  absl::StatusOr<Invocation> get = Parse({"job", "get", "5F0C1B2A-3D4E-4F60-8A7B-9C0D1E2F3A4B"});
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(std::get<GetJobCommand>(get->command).request.job_id(), kJob);
  absl::StatusOr<Invocation> cancel = Parse({"job", "cancel", kJob, "-o", "json"});
  ASSERT_TRUE(cancel.ok()) << cancel.status();
  EXPECT_EQ(std::get<CancelJobCommand>(cancel->command).request.job_id(), kJob);
  EXPECT_EQ(cancel->global.output, OutputFormat::kJson);
  absl::StatusOr<Invocation> watch = Parse({"job", "watch", kJob, "--resume-after", "7"});
  ASSERT_TRUE(watch.ok()) << watch.status();
  ExpectProtoEq(std::get<WatchJobCommand>(watch->command).request,
                Proto<v1::WatchJobRequest>(absl::StrCat("job_id: \"", kJob, "\" resume_after: 7")));
  absl::StatusOr<Invocation> ls =
      Parse({"job", "ls", "--state", "running", "--state", "cancelled", "--page-size", "5"});
  ASSERT_TRUE(ls.ok()) << ls.status();
  ExpectProtoEq(std::get<ListJobsCommand>(ls->command).request,
                Proto<v1::ListJobsRequest>("page_size: 5 states: JOB_STATE_RUNNING states: JOB_STATE_CANCELLED"));
  EXPECT_TRUE(IsJobCommand(ls->command));

  ExpectUsageError({"job", "get"}, "hivectl job get JOB_ID: missing arguments");
  ExpectUsageError({"job", "get", "nope"}, "JOB_ID: expected a UUID");
  ExpectUsageError({"job", "cancel", kJob, kJob}, "hivectl job cancel JOB_ID: unexpected argument");
  ExpectUsageError({"job", "watch", kJob, "--resume-after", "-1"}, "--resume-after: expected a sequence");
  ExpectUsageError({"job", "get", kJob, "--rate", "1"}, "--rate: not an option of \"hivectl job get\"");
  ExpectUsageError({"job", "ls", "--state", "done"}, "--state: expected running|paused|completed|aborted|cancelled");
  ExpectUsageError({"job", "ls", "--page-size", "501"}, "--page-size: expected an integer from 1 to 500");
  ExpectUsageError({"job", "ls", kJob}, "unexpected argument");
}

TEST(HivectlJob, HelpListsTheJobCommands) {
  EXPECT_THAT(HivectlHelp(), HasSubstr("job           fleet jobs: start (--dry-run), get, ls, cancel, watch"));
  absl::StatusOr<Invocation> help = Parse({"job", "--help"});
  ASSERT_TRUE(absl::IsCancelled(help.status()));
  const std::string text(help.status().message());
  for (const char* expected :
       {"Usage: hivectl job start|get|ls|cancel|watch", "job start KIND [ACTION]", "job get JOB_ID",
        "job ls [--state=S]...", "job cancel JOB_ID", "job watch JOB_ID [--resume-after=SEQ]", "--rate=N",
        "--wave=PERCENT[:PAUSE] ...", "--abort-ratio=R", "--queue-ttl=DURATION", "--dry-run", "--command-version=V",
        "--field=TYPE.PATH=JSON ...", "--state=STATE ..."}) {
    EXPECT_THAT(text, HasSubstr(expected));
  }
}

TEST(HivectlExitCodes, AreTenPlusTheGrpcCode) {
  EXPECT_EQ(ExitCodeFor(grpc::Status::OK), 0);
  EXPECT_EQ(ExitCodeFor(grpc::Status(grpc::StatusCode::NOT_FOUND, "gone")), 15);
  EXPECT_EQ(ExitCodeFor(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "slow")), 14);
  EXPECT_EQ(ExitCodeFor(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "who")), 26);
}

}  // namespace
}  // namespace hive::ctl

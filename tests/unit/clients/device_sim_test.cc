// Tests of hive-device-sim's socket-free parts: how a simulated device
// answers the seed's request under each --on-request policy and dialect, the
// events it reports, its options, roster, tokens, backoff and pacing.
#include <cstdio>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "bridge/auth/jwt_authenticator.h"
#include "bridge/auth/token_minter.h"
#include "bridge/codec/bridge_reply.h"
#include "bridge/codec/device_frame.h"
#include "bridge/codec/device_request.h"
#include "bridge/codec/device_response.h"
#include "bridge/uuid.h"
#include "clients/device_sim/connect_pacer.h"
#include "clients/device_sim/derived_ids.h"
#include "clients/device_sim/device_roster.h"
#include "clients/device_sim/reconnect_backoff.h"
#include "clients/device_sim/request_ledger.h"
#include "clients/device_sim/request_policy.h"
#include "clients/device_sim/sim_options.h"
#include "clients/device_sim/simulated_device.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/codec/codec_test_support.h"
#include "tests/unit/codec/json_assertions.h"
#include "tests/unit/support/command_line.h"
#include "tests/unit/support/fake_clock.h"

namespace hive::sim {
namespace {

using codec::Dialect;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using Reply = SimulatedDevice::Reply;

constexpr char kSeedRequestId[] = "5e5b0ee5-8774-4ebb-807c-48c9c26c16f8";
constexpr char kSeedDevice[] = "d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b";
constexpr char kSeedAccount[] = "8813b625-e219-4390-9a7b-fe0e22c9e50b";
constexpr Dialect kDialects[] = {Dialect::kStandard, Dialect::kCompact};

// The seed's device-request (tests/fixtures/) in `dialect`.
std::string SeedRequest(Dialect dialect) {
  std::string standard = testing::ReadFile(std::string(HIVE_FIXTURES_DIR) + "/seed_device_request.json");
  if (dialect == Dialect::kStandard) return standard;
  absl::StatusOr<bridge::v1::DeviceRequest> request = testing::DecodeRequestText(standard, Dialect::kStandard);
  EXPECT_TRUE(request.ok()) << request.status();
  return codec::EncodeDeviceRequest(*request, dialect).value();
}

SimulatedDevice SeedDevice(Dialect dialect, absl::string_view on_request) {
  return SimulatedDevice({kSeedDevice, kSeedAccount}, dialect, ParseRequestPolicy(on_request).value(), 7);
}

codec::DeviceResponse DecodeReply(const Reply& reply, Dialect dialect) {
  absl::StatusOr<codec::DeviceResponse> response = testing::DecodeResponseText(reply.frame, dialect);
  EXPECT_TRUE(response.ok()) << response.status() << " in " << reply.frame;
  return response.value_or(codec::DeviceResponse{});
}

TEST(SimulatedDevice, AcksAtOnceThenSendsTheResultForTheSeedRequest) {
  for (Dialect dialect : kDialects) {
    SCOPED_TRACE(testing::DialectName(dialect));
    SimulatedDevice::Reaction reaction = SeedDevice(dialect, "ack-result").OnFrame(SeedRequest(dialect));
    EXPECT_EQ(reaction.request_ids.size(), 1u);
    EXPECT_TRUE(reaction.unreadable.empty());
    ASSERT_THAT(reaction.replies, SizeIs(2));

    EXPECT_EQ(reaction.replies[0].kind, Reply::Kind::kAck);
    EXPECT_EQ(reaction.replies[0].delay, absl::ZeroDuration());
    const codec::DeviceResponse ack = DecodeReply(reaction.replies[0], dialect);
    EXPECT_EQ(ack.request_id, kSeedRequestId);
    EXPECT_EQ(ack.status, codec::DeviceResponse::Status::kAck);

    EXPECT_EQ(reaction.replies[1].kind, Reply::Kind::kResult);
    EXPECT_EQ(reaction.replies[1].delay, absl::ZeroDuration());
  }
  // The result, exactly as the README of --on-request promises it.
  EXPECT_TRUE(testing::JsonEqual(
      R"({"type":"device-response","request":"5e5b0ee5-8774-4ebb-807c-48c9c26c16f8","status":"ok",
          "result":{"command":"SchedulerAction.stop","handled_by":"hive-device-sim"}})",
      SeedDevice(Dialect::kStandard, "ack-result").OnFrame(SeedRequest(Dialect::kStandard)).replies[1].frame));
  EXPECT_TRUE(testing::JsonEqual(
      R"({"typ":"device-response","req":"5e5b0ee5-8774-4ebb-807c-48c9c26c16f8","sts":"ok",
          "rsl":{"command":"SchedulerAction.stop","handled_by":"hive-device-sim"}})",
      SeedDevice(Dialect::kCompact, "ack-result").OnFrame(SeedRequest(Dialect::kCompact)).replies[1].frame));
}

TEST(SimulatedDevice, AckOnlySendsJustTheAck) {
  for (Dialect dialect : kDialects) {
    SCOPED_TRACE(testing::DialectName(dialect));
    SimulatedDevice::Reaction reaction = SeedDevice(dialect, "ack").OnFrame(SeedRequest(dialect));
    EXPECT_EQ(reaction.request_ids.size(), 1u);
    ASSERT_THAT(reaction.replies, SizeIs(1));
    EXPECT_EQ(reaction.replies[0].kind, Reply::Kind::kAck);
    EXPECT_EQ(DecodeReply(reaction.replies[0], dialect).status, codec::DeviceResponse::Status::kAck);
  }
}

TEST(SimulatedDevice, AckFailAcksThenReportsAnErrorNamingTheCommand) {
  for (Dialect dialect : kDialects) {
    SCOPED_TRACE(testing::DialectName(dialect));
    SimulatedDevice::Reaction reaction = SeedDevice(dialect, "ack-fail").OnFrame(SeedRequest(dialect));
    ASSERT_THAT(reaction.replies, SizeIs(2));
    EXPECT_EQ(DecodeReply(reaction.replies[0], dialect).status, codec::DeviceResponse::Status::kAck);
    const codec::DeviceResponse failure = DecodeReply(reaction.replies[1], dialect);
    EXPECT_EQ(failure.request_id, kSeedRequestId);
    EXPECT_EQ(failure.status, codec::DeviceResponse::Status::kFailed);
    EXPECT_FALSE(failure.has_result);
    EXPECT_THAT(failure.error, HasSubstr("SchedulerAction.stop"));
  }
}

TEST(SimulatedDevice, NeverCountsTheRequestButAnswersNothing) {
  for (Dialect dialect : kDialects) {
    SCOPED_TRACE(testing::DialectName(dialect));
    SimulatedDevice::Reaction reaction = SeedDevice(dialect, "never").OnFrame(SeedRequest(dialect));
    EXPECT_EQ(reaction.request_ids.size(), 1u);
    EXPECT_TRUE(reaction.replies.empty());
    EXPECT_TRUE(reaction.unreadable.empty());
  }
}

TEST(SimulatedDevice, AckDelayAcksAtOnceAndDelaysTheResult) {
  SimulatedDevice::Reaction reaction =
      SeedDevice(Dialect::kStandard, "ack-delay:250").OnFrame(SeedRequest(Dialect::kStandard));
  ASSERT_THAT(reaction.replies, SizeIs(2));
  EXPECT_EQ(reaction.replies[0].delay, absl::ZeroDuration());
  EXPECT_EQ(reaction.replies[1].delay, absl::Milliseconds(250));
  EXPECT_EQ(DecodeReply(reaction.replies[1], Dialect::kStandard).status, codec::DeviceResponse::Status::kSucceeded);
}

TEST(SimulatedDevice, AnswersEveryRequestOfABatch) {
  const std::string request = SeedRequest(Dialect::kStandard);
  SimulatedDevice::Reaction reaction =
      SeedDevice(Dialect::kStandard, "ack-result").OnFrame(absl::StrCat("[", request, ",", request, "]"));
  EXPECT_EQ(reaction.request_ids.size(), 2u);
  EXPECT_THAT(reaction.replies, SizeIs(4));
}

TEST(SimulatedDevice, RecognisesTheBridgesAuthenticatedAndErrorReplies) {
  for (Dialect dialect : kDialects) {
    SCOPED_TRACE(testing::DialectName(dialect));
    SimulatedDevice device = SeedDevice(dialect, "ack-result");
    EXPECT_TRUE(device.OnFrame(codec::EncodeAuthenticatedReply(kSeedDevice, kSeedAccount, dialect)).authenticated);
    SimulatedDevice::Reaction error = device.OnFrame(codec::EncodeErrorReply("payload: bad", "c1", dialect));
    EXPECT_FALSE(error.authenticated);
    EXPECT_THAT(error.bridge_errors, ElementsAre("payload: bad"));
    EXPECT_TRUE(error.replies.empty());
  }
}

TEST(SimulatedDevice, ReportsFramesItCannotRead) {
  SimulatedDevice device = SeedDevice(Dialect::kStandard, "ack-result");
  EXPECT_THAT(device.OnFrame("{not json").unreadable, SizeIs(1));
  EXPECT_THAT(device.OnFrame("[1]").unreadable, ElementsAre("expected object, got number 1"));
  // A device-request the codec refuses is reported, not answered.
  SimulatedDevice::Reaction bad = device.OnFrame(R"({"type":"device-request","command":"X.y"})");
  EXPECT_THAT(bad.unreadable, SizeIs(1));
  EXPECT_EQ(bad.request_ids.size(), 0u);
  EXPECT_TRUE(bad.replies.empty());
}

TEST(SimulatedDevice, EventsRotateThroughTheFourDocumentedTypes) {
  using Body = bridge::v1::DeviceEvent::BodyCase;
  for (Dialect dialect : kDialects) {
    SCOPED_TRACE(testing::DialectName(dialect));
    SimulatedDevice device = SeedDevice(dialect, "ack-result");
    const Body expected[] = {Body::kInstances, Body::kInstanceState, Body::kDeviceVersion, Body::kDeviceState,
                             Body::kInstances};
    for (Body body : expected) {
      const std::string frame = device.NextEvent();
      SCOPED_TRACE(frame);
      // The bridge's own frame decoder must take it as an event, without errors.
      absl::StatusOr<std::vector<codec::FrameItem>> items = codec::DecodeDeviceFrame(frame, dialect, {});
      ASSERT_TRUE(items.ok()) << items.status();
      ASSERT_THAT(*items, SizeIs(1));
      ASSERT_TRUE((*items)[0].message.ok()) << (*items)[0].message.status();
      const auto* event = std::get_if<bridge::v1::DeviceEvent>(&*(*items)[0].message);
      ASSERT_NE(event, nullptr);
      EXPECT_EQ(event->body_case(), body);
      EXPECT_EQ(event->device_id(), kSeedDevice);
      EXPECT_EQ(event->account_id(), kSeedAccount);
      EXPECT_EQ(event->service(), "hive-device");
      // Only schema fields: nothing lands in `extra`.
      EXPECT_EQ(event->extra().fields_size(), 0);
      switch (body) {
        case Body::kInstances:
          ASSERT_EQ(event->instances().instances_size(), 2);
          EXPECT_TRUE(IsUuid(event->instances().instances(0).instance()));
          EXPECT_EQ(event->instances().instances(0).application().appstore(), "Fractal App Store");
          EXPECT_EQ(event->instances().instances(0).state(), "AppInstanceState.running");
          break;
        case Body::kInstanceState:
          EXPECT_TRUE(IsUuid(event->instance_state().instance()));
          EXPECT_TRUE(event->instance_state().storage_apikeys().fields().contains("s3"));
          EXPECT_FALSE(event->instance_state().encrypted_storage_apikeys().empty());
          break;
        case Body::kDeviceVersion:
          EXPECT_FALSE(event->device_version().version().empty());
          break;
        default:
          EXPECT_LE(event->device_state().disk_free_bytes(), event->device_state().disk_total_bytes());
          EXPECT_EQ(event->device_state().state() == "disk-low",
                    event->device_state().disk_free_bytes() * 10 < event->device_state().disk_total_bytes());
          break;
      }
    }
  }
}

TEST(SimulatedDevice, ReportsTheSameInstancesForTheSameSeed) {
  SimulatedDevice one = SeedDevice(Dialect::kStandard, "ack");
  SimulatedDevice two = SeedDevice(Dialect::kStandard, "ack");
  EXPECT_EQ(one.NextEvent(), two.NextEvent());
}

// Runs ParseSimOptions on `args` after the program name.
// `env` holds "NAME=value" entries, as `environ` does.
absl::StatusOr<SimOptions> Parse(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  const hive::testing::CommandLine line("hive-device-sim", args, env);
  return ParseSimOptions(line.argc(), line.argv(), line.envp());
}

TEST(SimOptions, DefaultsNeedOnlyCredentials) {
  absl::StatusOr<SimOptions> options = Parse({"--jwt-secret-file", "/tmp/secret"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->url, "ws://127.0.0.1:8080/v1/devices");
  EXPECT_EQ(options->devices, 1);
  EXPECT_EQ(options->account, kDefaultAccount);
  EXPECT_EQ(options->auth, AuthMode::kHeader);
  EXPECT_EQ(options->dialect, Dialect::kStandard);
  EXPECT_EQ(options->event_rate, 0);
  EXPECT_EQ(FormatRequestPolicy(options->on_request), "ack-result");
  EXPECT_EQ(options->connect_rate, 1000);
  EXPECT_TRUE(options->reconnect);
  EXPECT_EQ(options->duration, absl::ZeroDuration());
  EXPECT_EQ(options->token_ttl, absl::Hours(1));
  EXPECT_EQ(options->threads, 1);
}

TEST(SimOptions, ReadsEveryOptionInBothSpellings) {
  absl::StatusOr<SimOptions> options = Parse({"--url=wss://127.0.0.1:8443/v1/devices",
                                              "--devices",
                                              "200",
                                              "--accounts=4",
                                              "--seed",
                                              "9",
                                              "--jwt-secret-file=/s",
                                              "--token-ttl",
                                              "90m",
                                              "--auth",
                                              "message",
                                              "--dialect=compact",
                                              "--event-rate",
                                              "0.5",
                                              "--on-request",
                                              "ack-delay:300",
                                              "--connect-rate",
                                              "50",
                                              "--no-reconnect",
                                              "--duration",
                                              "5s",
                                              "--threads",
                                              "2",
                                              "--quiet",
                                              "--json-stats",
                                              "--require-all"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->url, "wss://127.0.0.1:8443/v1/devices");
  EXPECT_EQ(options->devices, 200);
  EXPECT_EQ(options->accounts, 4);
  EXPECT_EQ(options->seed, 9u);
  EXPECT_EQ(options->token_ttl, absl::Minutes(90));
  EXPECT_EQ(options->auth, AuthMode::kMessage);
  EXPECT_EQ(options->dialect, Dialect::kCompact);
  EXPECT_EQ(options->event_rate, 0.5);
  EXPECT_EQ(options->on_request.result_delay, absl::Milliseconds(300));
  EXPECT_EQ(options->connect_rate, 50);
  EXPECT_FALSE(options->reconnect);
  EXPECT_EQ(options->duration, absl::Seconds(5));
  EXPECT_EQ(options->threads, 2);
  EXPECT_TRUE(options->quiet && options->json_stats && options->require_all);
}

TEST(SimOptions, RefusesBadValuesNamingTheOption) {
  const std::string key = "--jwt-secret-file=/s";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{key, "--devices", "0"}, "--devices: must be between 1 and 100000, got 0"},
      {{key, "--devices", "100001"}, "--devices: must be between 1 and 100000, got 100001"},
      {{key, "--dialect", "terse"}, "--dialect: expected one of standard, compact, got \"terse\""},
      {{key, "--auth", "cookie"}, "--auth: expected one of header, message, got \"cookie\""},
      {{key, "--on-request", "maybe"},
       "--on-request: expected ack, ack-result, ack-fail, ack-delay:MS or never, got \"maybe\""},
      {{key, "--on-request", "ack-delay:soon"},
       "--on-request: ack-delay:MS needs MS between 0 and 3600000, got \"ack-delay:soon\""},
      {{key, "--url", "http://127.0.0.1/"},
       "--url: expected a ws:// or wss:// URL such as ws://127.0.0.1:8080/v1/devices, got \"http://127.0.0.1/\""},
      {{key, "--event-rate", "-1"}, "--event-rate: must be between 0 and 1000, got -1"},
      {{key, "--account", "acme"},
       "--account: expected a UUID such as 8813b625-e219-4390-9a7b-fe0e22c9e50b, got \"acme\""},
      {{key, "--duration", "soon"}, "--duration: expected a duration such as 30s, 500ms or 1m30s, got \"soon\""},
      // One duration syntax everywhere: a bare number is not seconds.
      {{key, "--duration", "5"}, "--duration: expected a duration such as 30s, 500ms or 1m30s, got \"5\""},
      {{key, "--token-ttl=0s"}, "--token-ttl: must be between 1s and 8760h, got 0s"},
      {{key, "--devices"}, "--devices: missing value"},
      {{key, "--frobnicate=1"}, "--frobnicate: unknown flag; see --help"},
      {{key, "--no-devices"}, "--no-devices: unknown flag; see --help"},
      {{key, "--quiet=maybe"}, "--quiet: expected true or false, got \"maybe\""},
      {{key, "stray"}, "unexpected argument \"stray\"; see --help"},
      {{}, "one of --jwt-secret-file or --tokens-file is required"},
      {{key, "--tokens-file=/t"}, "--jwt-secret-file and --tokens-file exclude each other; give one"},
      {{key, "--devices=2", "--device-id=d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b"},
       "--device-id: pins one device, but --devices is 2"},
      {{key, "--account", kSeedAccount, "--accounts", "3"}, "--account and --accounts exclude each other; give one"},
      {{"--tokens-file=/t", "--accounts=2"}, "--accounts: not with --tokens-file, which names the devices"},
  };
  for (const auto& [args, message] : cases) {
    EXPECT_EQ(Parse(args).status(), absl::InvalidArgumentError(message)) << absl::StrJoin(args, " ");
  }
}

TEST(SimOptions, HelpListsEveryOptionWithItsDefault) {
  absl::StatusOr<SimOptions> options = Parse({"--devices=3", "--help"});
  ASSERT_TRUE(absl::IsCancelled(options.status()));
  const absl::string_view help = options.status().message();
  for (absl::string_view option : {"--url=URL",
                                   "--devices=N",
                                   "--account=UUID",
                                   "--accounts=N",
                                   "--device-id=UUID",
                                   "--seed=N",
                                   "--jwt-secret-file=PATH",
                                   "--token-ttl=DURATION",
                                   "--tokens-file=PATH",
                                   "--auth=header|message",
                                   "--dialect=standard|compact",
                                   "--event-rate=R",
                                   "--on-request=POLICY",
                                   "--connect-rate=R",
                                   "--[no-]reconnect",
                                   "--duration=DURATION",
                                   "--threads=N",
                                   "--[no-]quiet",
                                   "--[no-]json-stats",
                                   "--[no-]require-all",
                                   "--tls-ca-file=PATH",
                                   "--[no-]tls-insecure"}) {
    EXPECT_THAT(help, HasSubstr(option));
  }
  EXPECT_THAT(help, HasSubstr("[default: ws://127.0.0.1:8080/v1/devices]"));
  EXPECT_THAT(help, HasSubstr("[default: ack-result]"));
  EXPECT_THAT(help, HasSubstr("[default: 1h]"));
  EXPECT_THAT(help, HasSubstr("[env: HIVE_SIM_TOKEN_TTL]"));
  EXPECT_THAT(help, HasSubstr("[env: HIVE_SIM_REQUIRE_ALL]"));
}

TEST(SimOptions, EveryHelpLineFitsOneHundredColumns) {
  const std::string help = SimOptionsHelp();
  for (absl::string_view line : absl::StrSplit(help, '\n')) EXPECT_LE(line.size(), 100u) << line;
}

TEST(SimOptions, ReadsHiveSimVariablesAndTheFlagWins) {
  absl::StatusOr<SimOptions> options =
      Parse({"--event-rate=3"}, {"HIVE_SIM_JWT_SECRET_FILE=/s", "HIVE_SIM_EVENT_RATE=bad", "HIVE_SIM_DURATION=1m30s",
                                 "HIVE_SIM_RECONNECT=false", "HIVE_SIM_DEVICES=4"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->jwt_secret_file, "/s");
  EXPECT_EQ(options->event_rate, 3);  // the flag's; the bad variable is not read
  EXPECT_EQ(options->duration, absl::Seconds(90));
  EXPECT_FALSE(options->reconnect);
  EXPECT_EQ(options->devices, 4);
  EXPECT_EQ(
      Parse({"--jwt-secret-file=/s"}, {"HIVE_SIM_DURATION=30"}).status(),
      absl::InvalidArgumentError(R"(HIVE_SIM_DURATION: expected a duration such as 30s, 500ms or 1m30s, got "30")"));
}

TEST(RequestPolicy, FormatsBackToItsSpelling) {
  for (absl::string_view spelling : {"ack", "ack-result", "ack-fail", "ack-delay:1500", "never"}) {
    EXPECT_EQ(FormatRequestPolicy(ParseRequestPolicy(spelling).value()), spelling);
  }
}

TEST(DeviceRoster, DerivesStableDistinctIdsAndSpreadsAccounts) {
  SimOptions options;
  options.devices = 6;
  options.accounts = 3;
  options.seed = 42;
  testing::FakeClock clock;
  DeviceRoster roster = DeviceRoster::Generate(options, TokenMinter(std::string(32, 's'), absl::Hours(1), clock));
  ASSERT_EQ(roster.size(), 6u);
  for (size_t i = 0; i < roster.size(); ++i) {
    EXPECT_TRUE(IsUuid(roster.entry(i).device_id));
    EXPECT_EQ(roster.entry(i).device_id, DerivedUuid(42, "device", i));
    EXPECT_EQ(roster.entry(i).account_id, roster.entry(i % 3).account_id);
  }
  EXPECT_NE(roster.entry(0).device_id, roster.entry(1).device_id);
  EXPECT_NE(roster.entry(0).account_id, roster.entry(1).account_id);
  EXPECT_NE(DerivedUuid(42, "device", 0), DerivedUuid(43, "device", 0));
  // Version 4, variant 10xx.
  EXPECT_EQ(roster.entry(0).device_id[14], '4');
  EXPECT_THAT(std::string("89ab"), HasSubstr(std::string(1, roster.entry(0).device_id[19])));
}

TEST(DeviceRoster, ReadsATokensFileAndNamesTheBadLine) {
  const std::string path = ::testing::TempDir() + "/device_sim_tokens.txt";
  const auto write = [&](const std::string& text) {
    FILE* file = std::fopen(path.c_str(), "w");
    ASSERT_NE(file, nullptr);
    std::fputs(text.c_str(), file);
    std::fclose(file);
  };
  write(absl::StrCat("# device account token\n\n", kSeedDevice, " ", kSeedAccount, " tok.en.one\n"));
  absl::StatusOr<DeviceRoster> roster = DeviceRoster::ReadTokensFile(path, 0);
  ASSERT_TRUE(roster.ok()) << roster.status();
  ASSERT_EQ(roster->size(), 1u);
  EXPECT_EQ(roster->entry(0).device_id, kSeedDevice);
  EXPECT_EQ(roster->TokenFor(0).value(), "tok.en.one");
  EXPECT_EQ(DeviceRoster::ReadTokensFile(path, 2).status(),
            absl::InvalidArgumentError("--devices: 2 asked for, but --tokens-file names only 1"));

  write(absl::StrCat(kSeedDevice, " ", kSeedAccount, " t\nnot-a-uuid ", kSeedAccount, " t\n"));
  EXPECT_EQ(
      DeviceRoster::ReadTokensFile(path, 0).status(),
      absl::InvalidArgumentError(absl::StrCat("--tokens-file: ", path, ":2: device_id and account_id must be UUIDs")));
  std::remove(path.c_str());
}

TEST(TokenMinter, MintsTokensTheBridgeAccepts) {
  testing::FakeClock clock;
  const std::string secret(48, 'k');
  TokenMinter minter(secret, absl::Minutes(5), clock);
  absl::StatusOr<std::string> token = minter.Mint(kSeedDevice, kSeedAccount);
  ASSERT_TRUE(token.ok()) << token.status();
  auto authenticator = JwtAuthenticator::FromHs256Secret(secret, clock);
  ASSERT_TRUE(authenticator.ok()) << authenticator.status();
  absl::StatusOr<DeviceIdentity> identity = (*authenticator)->Authenticate(*token);
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(identity->device_id, kSeedDevice);
  EXPECT_EQ(identity->account_id, kSeedAccount);
  EXPECT_EQ(identity->expires_at, clock.Now() + absl::Minutes(5));
  // Past exp and the bridge's leeway, the same token is refused.
  clock.Advance(absl::Minutes(6));
  EXPECT_FALSE((*authenticator)->Authenticate(*token).ok());
}

TEST(ReconnectBackoff, DoublesFrom100MsUpTo30SecondsWithJitter) {
  EXPECT_EQ(ReconnectDelay(0, 0.0), absl::Milliseconds(50));
  EXPECT_LT(ReconnectDelay(0, 0.999999), absl::Milliseconds(100));
  EXPECT_EQ(ReconnectDelay(1, 0.5), absl::Milliseconds(150));
  EXPECT_EQ(ReconnectDelay(3, 1.0), absl::Milliseconds(800));
  EXPECT_EQ(ReconnectDelay(9, 1.0), absl::Seconds(30));
  EXPECT_EQ(ReconnectDelay(1000, 0.0), absl::Seconds(15));
}

TEST(ConnectPacer, KeepsToTheRateWithAShortBurst) {
  const absl::Time start = absl::FromUnixSeconds(1'700'000'000);
  ConnectPacer pacer(100, start);  // burst: 50 ms worth, 5 connections
  EXPECT_EQ(pacer.Take(start, 1000), 1u);
  EXPECT_EQ(pacer.Take(start, 1000), 0u);
  EXPECT_EQ(pacer.Take(start + absl::Milliseconds(35), 1000), 3u);
  EXPECT_EQ(pacer.Take(start + absl::Seconds(10), 1000), 5u);
  EXPECT_EQ(pacer.Take(start + absl::Seconds(10) + absl::Milliseconds(20), 1), 1u);
  EXPECT_EQ(pacer.Take(start + absl::Seconds(10) + absl::Milliseconds(20), 1000), 1u);
}

TEST(RequestLedger, CountsARequestIdADeviceReceivesAgainButNotTheSameIdAtAnotherDevice) {
  RequestLedger ledger;
  const absl::Time t = absl::FromUnixSeconds(1000);
  ledger.Record("device-a", "request-1", t);
  ledger.Record("device-b", "request-1", t);
  ledger.Record("device-a", "request-2", t);
  EXPECT_EQ(ledger.Read().duplicates, 0);
  ledger.Record("device-a", "request-1", t);
  EXPECT_EQ(ledger.Read().duplicates, 1);
}

TEST(RequestLedger, RemembersABoundedNumberOfIdsPerDevice) {
  RequestLedger ledger;
  const absl::Time t = absl::FromUnixSeconds(1000);
  for (size_t i = 0; i <= RequestLedger::kIdsPerDevice; ++i) ledger.Record("device", absl::StrCat("r", i), t);
  ledger.Record("device", absl::StrCat("r", RequestLedger::kIdsPerDevice), t);  // the newest: still known
  EXPECT_EQ(ledger.Read().duplicates, 1);
  ledger.Record("device", "r0", t);  // the oldest: forgotten, so not seen as a duplicate
  EXPECT_EQ(ledger.Read().duplicates, 1);
}

TEST(RequestLedger, TheBusiestSecondIsTheMostRequestsWithinAnyOneSecond) {
  RequestLedger ledger;
  const absl::Time t = absl::FromUnixSeconds(1000);
  // Five at 0, 100, .. 400 ms; a window is the second before a receipt.
  for (int i = 0; i < 5; ++i) ledger.Record("d", absl::StrCat("a", i), t + absl::Milliseconds(100 * i));
  EXPECT_EQ(ledger.Read().busiest_second, 5);
  // (0.2 s, 1.2 s] holds 300, 400 and 1200: three.
  ledger.Record("d", "b", t + absl::Milliseconds(1200));
  EXPECT_EQ(ledger.Read().busiest_second, 5);
  // (0.3 s, 1.3 s]: 400, 1200, 1300; the busiest stays five.
  ledger.Record("d", "c", t + absl::Milliseconds(1300));
  EXPECT_EQ(ledger.Read().busiest_second, 5);
  // Five more at 1400 .. 1800 ms: (0.8 s, 1.8 s] holds seven.
  for (int i = 0; i < 5; ++i) ledger.Record("d", absl::StrCat("e", i), t + absl::Milliseconds(1400 + 100 * i));
  EXPECT_EQ(ledger.Read().busiest_second, 7);
}

TEST(RequestLedger, FiveSecondsHoldWhatAStallBunchesAndTheSpanRunsFromTheFirstToTheLast) {
  RequestLedger ledger;
  const absl::Time t = absl::FromUnixSeconds(1000);
  EXPECT_EQ(ledger.Read().span, absl::ZeroDuration());
  // Ten a second for three seconds, then a stall of one second, then the
  // ten held back arrive at once with the next second's ten.
  int id = 0;
  for (int ms = 0; ms < 3000; ms += 100) ledger.Record("d", absl::StrCat(id++), t + absl::Milliseconds(ms));
  for (int i = 0; i < 20; ++i) ledger.Record("d", absl::StrCat(id++), t + absl::Milliseconds(4000));
  const RequestLedger::Totals totals = ledger.Read();
  // (3 s, 4 s] holds the twenty: twice the pace in one second.
  EXPECT_EQ(totals.busiest_second, 20);
  // (-1 s, 4 s] holds all fifty: the five seconds' pace of ten a second.
  EXPECT_EQ(totals.busiest_five_seconds, 50);
  EXPECT_EQ(totals.span, absl::Seconds(4));
  // A receipt recorded out of order counts as the newest: the span only grows.
  ledger.Record("d", absl::StrCat(id++), t + absl::Milliseconds(3500));
  EXPECT_EQ(ledger.Read().span, absl::Seconds(4));
  EXPECT_EQ(ledger.Read().busiest_second, 21);
}

}  // namespace
}  // namespace hive::sim

// Device events end to end (docs/protocol.md §3–§4, SubscribeEvents): typed
// bodies with the authenticated identity stamped on, batches, filters,
// resuming, a stalled subscriber that must not slow anyone else, and the
// bridge's own connected / disconnected / alive events.
#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/substitute.h"
#include "bridge/codec/device_event.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/bridge_metrics.h"
#include "tests/integration/support/bridge_test.h"
#include "tests/integration/support/json_assertions.h"

namespace hive::integration {
namespace {

using integration::operator<<;
using hive::bridge::v1::GAP_REASON_EPOCH_CHANGED;
using hive::bridge::v1::GAP_REASON_SLOW_SUBSCRIBER;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

constexpr absl::Duration kEventTimeout = absl::Seconds(3);

class EventsTest : public BridgeTest {
 protected:
  static void SetUpTestSuite() { StartSuiteBridge(); }
  static void TearDownTestSuite() { StopSuiteBridge(); }
};

// The markers of `events`, in order.
std::vector<std::string> MarkersOf(const std::vector<DeviceEvent>& events) {
  std::vector<std::string> markers;
  for (const DeviceEvent& event : events) markers.push_back(MarkerOf(event));
  return markers;
}

// The next `count` events of `stream` that carry a marker.
std::vector<DeviceEvent> NextMarked(EventStream& stream, size_t count) {
  std::vector<DeviceEvent> events;
  while (events.size() < count) {
    std::optional<DeviceEvent> event =
        stream.NextMatching([](const DeviceEvent& e) { return !MarkerOf(e).empty(); }, kEventTimeout);
    if (!event.has_value()) break;
    events.push_back(*std::move(event));
  }
  return events;
}

// --- Typed events ---------------------------------------------------------

struct TypedCase {
  std::string name;
  codec::Dialect dialect;
  std::string frame;
  std::string type;
  DeviceEvent::BodyCase body;
  std::function<void(const DeviceEvent&)> check;
};

class TypedEventTest : public EventsTest, public ::testing::WithParamInterface<TypedCase> {};

TEST_P(TypedEventTest, ArrivesTypedWithTheDevicesIdentity) {
  const TypedCase& c = GetParam();
  TestDevice& device = Connect({.dialect = c.dialect});
  EventStream& stream = SubscribeTo(device);

  device.Send(c.frame);

  std::optional<DeviceEvent> event = stream.NextMatching(OfType(c.type), kEventTimeout);
  ASSERT_TRUE(event.has_value()) << device.Transcript() << "\n" << Log();
  EXPECT_EQ(event->device_id(), device.device_id());
  EXPECT_EQ(event->account_id(), device.account_id());
  EXPECT_EQ(event->service(), "hive-device");
  EXPECT_EQ(event->epoch(), bridge().epoch());
  EXPECT_GT(event->sequence(), 0u);
  EXPECT_TRUE(event->has_received_at());
  EXPECT_EQ(event->body_case(), c.body) << event->ShortDebugString();
  c.check(*event);
}

INSTANTIATE_TEST_SUITE_P(
    Types, TypedEventTest,
    ::testing::Values(TypedCase{"Instances", codec::Dialect::kStandard,
                                R"({"type":"instances","instances":[{"instance":"ad51b914-688a-4a5f-a073-5c5121a010e2",
                      "application":{"appstore":"Fractal App Store","name":"wikijs","version":"latest"},
                      "state":"AppInstanceState.running","health":"healthy"}]})",
                                "instances", DeviceEvent::kInstances,
                                [](const DeviceEvent& e) {
                                  ASSERT_EQ(e.instances().instances_size(), 1);
                                  const auto& instance = e.instances().instances(0);
                                  EXPECT_EQ(instance.instance(), "ad51b914-688a-4a5f-a073-5c5121a010e2");
                                  EXPECT_EQ(instance.application().appstore(), "Fractal App Store");
                                  EXPECT_EQ(instance.application().name(), "wikijs");
                                  EXPECT_EQ(instance.application().version(), "latest");
                                  EXPECT_EQ(instance.state(), "AppInstanceState.running");
                                  EXPECT_EQ(instance.health(), "healthy");
                                }},
                      TypedCase{"InstanceState", codec::Dialect::kStandard,
                                R"({"type":"instance-state","instance":"ad51b914-688a-4a5f-a073-5c5121a010e2",
                      "state":"AppInstanceState.stopped","storage_apikeys":{"s3":"key"},
                      "encrypted_storage_apikeys":"DGJEKsFC"})",
                                "instance-state", DeviceEvent::kInstanceState,
                                [](const DeviceEvent& e) {
                                  EXPECT_EQ(e.instance_state().instance(), "ad51b914-688a-4a5f-a073-5c5121a010e2");
                                  EXPECT_EQ(e.instance_state().state(), "AppInstanceState.stopped");
                                  EXPECT_EQ(e.instance_state().storage_apikeys().fields().at("s3").string_value(),
                                            "key");
                                  EXPECT_EQ(e.instance_state().encrypted_storage_apikeys(), "DGJEKsFC");
                                }},
                      TypedCase{"DeviceVersion", codec::Dialect::kStandard,
                                R"({"type":"device-version","version":"2.4.1"})", "device-version",
                                DeviceEvent::kDeviceVersion,
                                [](const DeviceEvent& e) { EXPECT_EQ(e.device_version().version(), "2.4.1"); }},
                      TypedCase{"DeviceState", codec::Dialect::kStandard,
                                R"({"type":"device-state","state":"disk-low","message":"1 MiB left",
                      "disk_free_bytes":1048576,"disk_total_bytes":32000000000})",
                                "device-state", DeviceEvent::kDeviceState,
                                [](const DeviceEvent& e) {
                                  EXPECT_EQ(e.device_state().state(), "disk-low");
                                  EXPECT_EQ(e.device_state().message(), "1 MiB left");
                                  EXPECT_EQ(e.device_state().disk_free_bytes(), 1048576u);
                                  EXPECT_EQ(e.device_state().disk_total_bytes(), 32000000000u);
                                }},
                      TypedCase{"DeviceStateCompact", codec::Dialect::kCompact,
                                R"({"typ":"device-state","sta":"disk-low","dfb":1048576,"dtb":18446744073709551615})",
                                "device-state", DeviceEvent::kDeviceState,
                                [](const DeviceEvent& e) {
                                  EXPECT_EQ(e.device_state().state(), "disk-low");
                                  EXPECT_EQ(e.device_state().disk_free_bytes(), 1048576u);
                                  EXPECT_EQ(e.device_state().disk_total_bytes(), 18446744073709551615u);
                                }},
                      TypedCase{"UnknownTypeIsGenericWithEveryField", codec::Dialect::kStandard,
                                R"({"type":"telemetry","temperature":21.5,"big":9007199254740993})", "telemetry",
                                DeviceEvent::kGeneric,
                                [](const DeviceEvent& e) {
                                  EXPECT_EQ(e.extra().fields().at("temperature").number_value(), 21.5);
                                  EXPECT_EQ(e.exact_numbers().at("/big"), "9007199254740993");
                                }}),
    RowName());

struct SpoofCase {
  std::string name;
  codec::Dialect dialect;
  // The frame, with $0 standing for the other device's and account's UUID.
  std::string frame;
};

class SpoofedIdentityTest : public EventsTest, public ::testing::WithParamInterface<SpoofCase> {};

TEST_P(SpoofedIdentityTest, IsOverwrittenWithTheAuthenticatedOne) {
  TestDevice& device = Connect({.dialect = GetParam().dialect});
  EventStream& stream = SubscribeTo(device);

  device.Send(absl::Substitute(GetParam().frame, NewId()));

  std::optional<DeviceEvent> event = stream.NextMatching(OfType("device-state"), kEventTimeout);
  ASSERT_TRUE(event.has_value()) << device.Transcript() << "\n" << Log();
  EXPECT_EQ(event->device_id(), device.device_id());
  EXPECT_EQ(event->account_id(), device.account_id());
  EXPECT_EQ(event->service(), "hive-device");
  EXPECT_EQ(event->device_state().state(), "ok");
  for (const char* key : {"device", "account", "service", "dev", "acc", "svc"}) {
    EXPECT_FALSE(event->extra().fields().contains(key)) << key << " kept in extra: " << event->ShortDebugString();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Dialects, SpoofedIdentityTest,
    ::testing::Values(
        SpoofCase{"Standard", codec::Dialect::kStandard,
                  R"({"type":"device-state","device":"$0","account":"$0","service":"hive-backend","state":"ok"})"},
        SpoofCase{"Compact", codec::Dialect::kCompact,
                  R"({"typ":"device-state","dev":"$0","acc":"$0","svc":"hive-backend","sta":"ok"})"}),
    RowName());

// --- Events whose fields do not fit their type ---------------------------------

// A known type with a field of another shape is relayed, not refused: generic
// body, every field in `extra` as the device sent it, and a schema_error
// (docs/protocol.md §4).
struct MisfitCase {
  std::string name;
  codec::Dialect dialect;
  // The device's fields after the type ($0: a marker, so the event is found).
  std::string type;
  std::string fields;
  std::string schema_error;
};

class MisfitEventTest : public EventsTest, public ::testing::WithParamInterface<MisfitCase> {};

TEST_P(MisfitEventTest, ArrivesGenericWithEveryFieldAsSentAndTheSchemaError) {
  const MisfitCase& c = GetParam();
  const bool compact = c.dialect == codec::Dialect::kCompact;
  const std::string series = absl::StrCat("hivebridge_device_event_schema_errors_total{type=\"", c.type, "\"}");
  const uint64_t counted_before = MetricValue(bridge(), series);
  TestDevice& device = Connect({.dialect = c.dialect});
  EventStream& stream = SubscribeTo(device);
  const std::string marker = NewId();
  const std::string fields = absl::Substitute(c.fields, marker);

  device.Send(absl::StrCat("{\"", compact ? "typ" : "type", "\":\"", c.type, "\",", fields, "}"));

  std::optional<DeviceEvent> event = stream.NextMatching(OfType(c.type), kEventTimeout);
  ASSERT_TRUE(event.has_value()) << device.Transcript() << "\n" << Log();
  EXPECT_EQ(event->schema_error(), c.schema_error);
  EXPECT_EQ(event->body_case(), DeviceEvent::kGeneric) << event->ShortDebugString();
  EXPECT_EQ(event->device_id(), device.device_id());
  EXPECT_EQ(event->account_id(), device.account_id());
  EXPECT_EQ(event->service(), "hive-device");
  // Every field intact: the event written back in the device's dialect is
  // the device's object with the bridge's envelope.
  const std::string expected =
      absl::Substitute(R"({"$0":"$1","$2":"$3","$4":"hive-device","$5":"$6",$7})", compact ? "dev" : "device",
                       device.device_id(), compact ? "acc" : "account", device.account_id(),
                       compact ? "svc" : "service", compact ? "typ" : "type", c.type, fields);
  EXPECT_TRUE(JsonEquals(codec::EncodeDeviceEvent(*event, c.dialect), expected));
  // No error reply for it: replies come in order, so the first one the
  // device gets is for the bad frame it sends next.
  device.Send("[7]");
  std::optional<std::string> reply = device.NextOfType("error", kEventTimeout);
  ASSERT_TRUE(reply.has_value()) << device.Transcript();
  EXPECT_EQ(StringField(*reply, compact ? "err" : "error"), "[0]: expected object, got number 7") << *reply;
  EXPECT_EQ(AwaitMetricValue(bridge(), series, counted_before + 1, kEventTimeout), counted_before + 1);
}

INSTANTIATE_TEST_SUITE_P(
    Types, MisfitEventTest,
    ::testing::Values(MisfitCase{"DeviceStateWithAnObjectState", codec::Dialect::kStandard, "device-state",
                                 R"("state":{"disk":"low"},"message":"$0","disk_free_bytes":5)",
                                 "state: expected string, got object"},
                      MisfitCase{"DeviceStateWithNegativeFreeBytes", codec::Dialect::kStandard, "device-state",
                                 R"("disk_free_bytes":-5,"marker":"$0")",
                                 "disk_free_bytes: expected unsigned 64-bit integer, got number -5"},
                      MisfitCase{"DeviceVersionWithAnObjectVersion", codec::Dialect::kStandard, "device-version",
                                 R"("version":{"major":1,"big":9007199254740993},"marker":"$0")",
                                 "version: expected string, got object"},
                      MisfitCase{"InstancesAsAString", codec::Dialect::kStandard, "instances",
                                 R"("instances":"x","marker":"$0")", R"(instances: expected array, got string "x")"},
                      MisfitCase{"InstanceStateWithNumericKeys", codec::Dialect::kStandard, "instance-state",
                                 R"("storage_apikeys":7,"instance":"$0")",
                                 "storage_apikeys: expected object, got number 7"},
                      MisfitCase{"CompactDeviceStateWithAnObjectState", codec::Dialect::kCompact, "device-state",
                                 R"("sta":{"disk":"low"},"msg":"$0")", "state: expected string, got object"},
                      MisfitCase{"CompactInstancesAsAString", codec::Dialect::kCompact, "instances",
                                 R"("iss":"x","marker":"$0")", R"(instances: expected array, got string "x")"}),
    RowName());

TEST_F(EventsTest, AWellFormedKnownEventStillArrivesTypedWithoutASchemaError) {
  TestDevice& device = Connect();
  EventStream& stream = SubscribeTo(device);

  device.Send(R"({"type":"device-state","state":"disk-low","disk_free_bytes":5})");

  std::optional<DeviceEvent> event = stream.NextMatching(OfType("device-state"), kEventTimeout);
  ASSERT_TRUE(event.has_value()) << device.Transcript() << "\n" << Log();
  EXPECT_TRUE(event->has_device_state()) << event->ShortDebugString();
  EXPECT_EQ(event->device_state().state(), "disk-low");
  EXPECT_EQ(event->schema_error(), "");
  EXPECT_EQ(MetricValue(bridge(), "hivebridge_device_event_schema_errors_total{type=\"device-state\"}"), 0u);
}

TEST_F(EventsTest, WhatIsNotAnEventStillGetsAnErrorReplyAndIsNotDelivered) {
  TestDevice& device = Connect();
  EventStream& stream = SubscribeTo(device);

  for (const auto& [frame, error] : std::vector<std::pair<std::string, std::string>>{
           {R"("device-state")", R"(a frame holds a JSON object or an array of objects, got string "device-state")"},
           {R"([7])", "[0]: expected object, got number 7"},
           {R"({"state":{"disk":"low"}})", "type: missing"},
           {R"({"type":{"name":"device-state"}})", "type: expected non-empty string, got object"},
           {R"({"type":"device-state","state":"a","state":{"disk":"low"}})", R"((root): duplicate key "state")"}}) {
    device.Send(frame);
    std::optional<std::string> reply = device.NextOfType("error", kEventTimeout);
    ASSERT_TRUE(reply.has_value()) << frame << "\n" << device.Transcript();
    EXPECT_EQ(StringField(*reply, "error"), error) << frame;
  }
  // Nothing of the refused frames reached the subscriber: the first
  // device-state event it gets is the one sent after them.
  device.Send(MarkedEvent("device-state", "after"));
  std::optional<DeviceEvent> first = stream.NextMatching(OfType("device-state"), kEventTimeout);
  ASSERT_TRUE(first.has_value()) << Log();
  EXPECT_EQ(MarkerOf(*first), "after") << first->ShortDebugString();
}

// --- Batches --------------------------------------------------------------

TEST_F(EventsTest, BatchOfThreeIsThreeEventsInOrder) {
  TestDevice& device = Connect();
  EventStream& stream = SubscribeTo(device);

  device.Send(absl::StrCat("[", MarkedEvent("device-state", "one"), ",", MarkedEvent("device-version", "two"), ",",
                           MarkedEvent("telemetry", "three"), "]"));

  std::vector<DeviceEvent> events = NextMarked(stream, 3);
  EXPECT_THAT(MarkersOf(events), ElementsAreArray({"one", "two", "three"})) << Log();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].sequence(), events[0].sequence() + 1);
  EXPECT_EQ(events[2].sequence(), events[1].sequence() + 1);
}

TEST_F(EventsTest, InvalidBatchMemberGetsAnErrorReplyAndTheRestStillCounts) {
  TestDevice& device = Connect();
  EventStream& stream = SubscribeTo(device);

  device.Send(absl::StrCat("[", MarkedEvent("device-state", "first"), R"(,{"cid":"c-2","state":"no type"},)",
                           MarkedEvent("device-state", "third"), "]"));

  std::optional<std::string> error = device.NextOfType("error", kEventTimeout);
  ASSERT_TRUE(error.has_value()) << device.Transcript();
  EXPECT_EQ(StringField(*error, "error"), "[1].type: missing");
  EXPECT_EQ(StringField(*error, "cid"), "c-2");
  EXPECT_THAT(MarkersOf(NextMarked(stream, 2)), ElementsAreArray({"first", "third"}));
}

// --- Filters ----------------------------------------------------------------

// Who sends what in the filter scenario: devices A1 and A2 of account X,
// device B1 of account Y.
struct ScriptedEvent {
  std::string device;
  std::string type;
  std::string marker;
};
const std::vector<ScriptedEvent>& Script() {
  static const auto* const script = new std::vector<ScriptedEvent>{
      {"A1", "device-state", "a1-state"},
      {"A2", "device-version", "a2-version"},
      {"B1", "device-state", "b1-state"},
      {"B1", "device-version", "b1-version"},
  };
  return *script;
}

struct FilterCase {
  std::string name;
  std::vector<std::string> accounts;  // "X", "Y"
  std::vector<std::string> devices;   // "A1", "A2", "B1"
  std::vector<std::string> types;
  std::set<std::string> expected;  // markers
};

class EventFilterTest : public BridgeTest, public ::testing::WithParamInterface<FilterCase> {
 protected:
  void SetUp() override { StartOwnBridge(); }
};

TEST_P(EventFilterTest, DeliversExactlyTheMatchingEvents) {
  const FilterCase& c = GetParam();
  const std::map<std::string, std::string> accounts = {{"X", NewId()}, {"Y", NewId()}};
  std::map<std::string, TestDevice*> devices = {
      {"A1", &Connect({.account_id = accounts.at("X")})},
      {"A2", &Connect({.account_id = accounts.at("X")})},
      {"B1", &Connect({.account_id = accounts.at("Y")})},
  };
  // Everything published after the connections is the script's.
  EventStream& everything = Subscribe();
  uint64_t before_script = 0;
  for (int connected = 0; connected < 3; ++connected) {
    std::optional<DeviceEvent> event = everything.NextMatching(OfType("device-connected"), kEventTimeout);
    ASSERT_TRUE(event.has_value()) << Log();
    before_script = std::max(before_script, event->sequence());
  }
  for (const ScriptedEvent& e : Script()) devices.at(e.device)->Send(MarkedEvent(e.type, e.marker));
  // Devices send on connections of their own, so the bridge's order is the
  // one to expect.
  std::vector<std::string> published = MarkersOf(NextMarked(everything, Script().size()));
  ASSERT_EQ(published.size(), Script().size()) << Log();
  std::vector<std::string> expected;
  std::copy_if(published.begin(), published.end(), std::back_inserter(expected),
               [&](const std::string& marker) { return c.expected.count(marker) > 0; });
  ASSERT_EQ(expected.size(), c.expected.size());

  SubscribeEventsRequest request;
  for (const std::string& account : c.accounts) request.add_account_ids(accounts.at(account));
  for (const std::string& device : c.devices) request.add_device_ids(devices.at(device)->device_id());
  for (const std::string& type : c.types) request.add_types(type);
  request.mutable_resume_after()->set_epoch(bridge().epoch());
  request.mutable_resume_after()->set_sequence(before_script);
  EventStream& filtered = Subscribe(request);
  // The fence: an expected event once more, live. Whatever else the filter
  // let through would arrive before it.
  const auto& again = *std::find_if(Script().begin(), Script().end(),
                                    [&](const ScriptedEvent& e) { return e.marker == expected.back(); });
  devices.at(again.device)->Send(MarkedEvent(again.type, "fence"));
  expected.push_back("fence");

  std::vector<std::string> received;
  while (received.empty() || received.back() != "fence") {
    std::optional<DeviceEvent> event = filtered.Next(kEventTimeout);
    ASSERT_TRUE(event.has_value()) << "received so far: " << absl::StrJoin(received, ", ") << "\n" << Log();
    received.push_back(MarkerOf(*event).empty() ? event->type() : MarkerOf(*event));
  }
  EXPECT_THAT(received, ElementsAreArray(expected));
}

INSTANTIATE_TEST_SUITE_P(
    Filters, EventFilterTest,
    ::testing::Values(
        FilterCase{"NoFilterMatchesEverything", {}, {}, {}, {"a1-state", "a2-version", "b1-state", "b1-version"}},
        FilterCase{"OneAccount", {"X"}, {}, {}, {"a1-state", "a2-version"}},
        FilterCase{"EitherAccount", {"X", "Y"}, {}, {}, {"a1-state", "a2-version", "b1-state", "b1-version"}},
        FilterCase{"OneDevice", {}, {"B1"}, {}, {"b1-state", "b1-version"}},
        FilterCase{"EitherDevice", {}, {"A1", "B1"}, {}, {"a1-state", "b1-state", "b1-version"}},
        FilterCase{"OneType", {}, {}, {"device-version"}, {"a2-version", "b1-version"}},
        FilterCase{"AccountAndType", {"Y"}, {}, {"device-state"}, {"b1-state"}},
        FilterCase{"AccountAndDevice", {"X"}, {"A2", "B1"}, {}, {"a2-version"}},
        FilterCase{"DeviceAndType", {}, {"A1", "A2"}, {"device-state", "telemetry"}, {"a1-state"}}),
    RowName());

// --- Resuming ---------------------------------------------------------------

class EventResumeTest : public BridgeTest {
 protected:
  void SetUp() override { StartOwnBridge(); }
};

TEST_F(EventResumeTest, AfterSequenceNReplaysNPlusOneOnwardThenLiveEvents) {
  TestDevice& device = Connect();
  EventStream& live = Subscribe();
  for (const char* marker : {"r1", "r2", "r3", "r4", "r5"}) device.Send(MarkedEvent("device-state", marker));
  std::vector<DeviceEvent> seen = NextMarked(live, 5);
  ASSERT_EQ(seen.size(), 5u) << Log();
  const uint64_t n = seen[1].sequence();  // r2

  SubscribeEventsRequest request;
  request.mutable_resume_after()->set_epoch(bridge().epoch());
  request.mutable_resume_after()->set_sequence(n);
  EventStream& resumed = Subscribe(request);
  std::vector<DeviceEvent> replayed;
  for (int i = 0; i < 3; ++i) {
    std::optional<DeviceEvent> event = resumed.Next(kEventTimeout);
    ASSERT_TRUE(event.has_value()) << Log();
    replayed.push_back(*std::move(event));
  }
  device.Send(MarkedEvent("device-state", "r6"));
  std::optional<DeviceEvent> next = resumed.Next(kEventTimeout);

  EXPECT_THAT(MarkersOf(replayed), ElementsAreArray({"r3", "r4", "r5"}));
  for (size_t i = 0; i < replayed.size(); ++i) EXPECT_EQ(replayed[i].sequence(), n + 1 + i);
  ASSERT_TRUE(next.has_value()) << Log();
  EXPECT_EQ(MarkerOf(*next), "r6");
  EXPECT_EQ(next->sequence(), n + 4);
}

TEST_F(EventResumeTest, UnknownEpochStartsWithAnEpochChangedGap) {
  TestDevice& device = Connect();
  device.Send(MarkedEvent("device-state", "before"));
  ASSERT_TRUE(SubscribeTo(device).NextMatching(WithMarker("before"), kEventTimeout).has_value()) << Log();

  SubscribeEventsRequest request;
  request.add_device_ids(device.device_id());
  request.mutable_resume_after()->set_epoch("0b5e3a52-6c51-4c0e-9d3e-2f7f1b0c9a11");  // another start's
  request.mutable_resume_after()->set_sequence(3);
  EventStream& stream = Subscribe(request);

  std::optional<DeviceEvent> first = stream.Next(kEventTimeout);
  ASSERT_TRUE(first.has_value()) << Log();
  EXPECT_EQ(first->type(), "gap");
  EXPECT_EQ(first->gap().reason(), GAP_REASON_EPOCH_CHANGED) << first->ShortDebugString();
  EXPECT_EQ(first->gap().missed(), 0u);
  EXPECT_EQ(first->epoch(), bridge().epoch());
  // Then everything the bridge still holds, from its start.
  std::optional<DeviceEvent> second = stream.Next(kEventTimeout);
  ASSERT_TRUE(second.has_value()) << Log();
  EXPECT_EQ(second->type(), "device-connected");
  EXPECT_TRUE(stream.NextMatching(WithMarker("before"), kEventTimeout).has_value());
}

class ExpiredHistoryTest : public BridgeTest {
 protected:
  void SetUp() override { StartOwnBridge({"--event-history=4"}); }
};

TEST_F(ExpiredHistoryTest, ResumePointOlderThanTheHistoryStartsWithAGapCountingTheLost) {
  TestDevice& device = Connect();  // its device-connected event is sequence 1
  EventStream& live = Subscribe();
  // With so short a history, the stream must be live before the device
  // sends: seeing the connected event says it is.
  ASSERT_TRUE(live.NextMatching(OfType("device-connected"), kEventTimeout).has_value()) << Log();
  for (int i = 1; i <= 8; ++i) device.Send(MarkedEvent("device-state", absl::StrCat("h", i)));  // sequences 2..9
  ASSERT_EQ(NextMarked(live, 8).size(), 8u) << Log();

  SubscribeEventsRequest request;
  request.mutable_resume_after()->set_epoch(bridge().epoch());
  request.mutable_resume_after()->set_sequence(2);
  EventStream& resumed = Subscribe(request);

  // The bridge keeps sequences 6..9: 3, 4 and 5 are lost.
  std::optional<DeviceEvent> gap = resumed.Next(kEventTimeout);
  ASSERT_TRUE(gap.has_value()) << Log();
  EXPECT_EQ(gap->type(), "gap");
  EXPECT_EQ(gap->gap().reason(), hive::bridge::v1::GAP_REASON_HISTORY_EXPIRED) << gap->ShortDebugString();
  EXPECT_EQ(gap->gap().missed(), 3u);
  EXPECT_EQ(gap->sequence(), 5u);
  EXPECT_THAT(MarkersOf(NextMarked(resumed, 4)), ElementsAreArray({"h5", "h6", "h7", "h8"}));
}

// --- Slow subscribers -----------------------------------------------------

class SlowSubscriberTest : public BridgeTest {
 protected:
  void SetUp() override { StartOwnBridge({"--subscriber-queue=16"}); }
};

TEST_F(SlowSubscriberTest, StalledSubscriberGetsAGapWhileAnotherGetsEveryEvent) {
  constexpr int kEvents = 400;
  constexpr int kPerBatch = 8;  // half the subscriber queue
  const std::string padding(2000, 'p');
  TestDevice& device = Connect();
  SubscribeEventsRequest bursts;
  bursts.add_device_ids(device.device_id());
  bursts.add_types("burst");
  // The stalled subscriber reads through a connection of its own whose
  // flow-control window stays small, so its unread events back up into the
  // bridge's queue for it.
  grpc::ChannelArguments small_window;
  small_window.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  small_window.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 * 1024);
  std::unique_ptr<Stub> stalled_stub = bridge().NewStub(small_window);
  EventStream& stalled = SubscribeOn(*stalled_stub, bursts);
  EventStream& healthy = Subscribe(bursts);
  device.Send(MarkedEvent("burst", "sync"));
  ASSERT_TRUE(stalled.NextMatching(WithMarker("sync"), kEventTimeout).has_value()) << Log();
  ASSERT_TRUE(healthy.NextMatching(WithMarker("sync"), kEventTimeout).has_value()) << Log();
  stalled.Pause();

  // Batches smaller than the queue, each sent once the healthy subscriber
  // has the one before: it never falls behind, the stalled one does.
  int healthy_events = 0;
  int healthy_gaps = 0;
  for (int batch = 0; batch < kEvents / kPerBatch; ++batch) {
    std::vector<std::string> frames;
    for (int i = batch * kPerBatch; i < (batch + 1) * kPerBatch; ++i) {
      frames.push_back(absl::Substitute(R"({"type":"burst","marker":"burst-$0","pad":"$1"})", i, padding));
    }
    device.Send(absl::StrCat("[", absl::StrJoin(frames, ","), "]"));
    const std::string last_of_batch = absl::StrCat("burst-", (batch + 1) * kPerBatch - 1);
    while (true) {
      std::optional<DeviceEvent> event = healthy.Next(kEventTimeout);
      ASSERT_TRUE(event.has_value()) << "healthy subscriber got " << healthy_events << "\n" << Log();
      if (event->type() == "gap") ++healthy_gaps;
      if (event->type() == "burst") ++healthy_events;
      if (MarkerOf(*event) == last_of_batch) break;
    }
  }
  EXPECT_EQ(healthy_events, kEvents);
  EXPECT_EQ(healthy_gaps, 0);
  const std::string last = absl::StrCat("burst-", kEvents - 1);

  stalled.Resume();
  int stalled_events = 0;
  uint64_t missed = 0;
  while (true) {
    std::optional<DeviceEvent> event = stalled.Next(kEventTimeout);
    ASSERT_TRUE(event.has_value()) << "stalled subscriber got " << stalled_events << " and missed " << missed;
    if (event->type() == "gap") {
      EXPECT_EQ(event->gap().reason(), GAP_REASON_SLOW_SUBSCRIBER) << event->ShortDebugString();
      missed += event->gap().missed();
    } else {
      ++stalled_events;
    }
    if (MarkerOf(*event) == last) break;
  }
  EXPECT_GT(missed, 0u);
  EXPECT_EQ(stalled_events + missed, static_cast<uint64_t>(kEvents));
  ExpectAcked(Connect({.responder = Responder::Ack()}));
}

// --- The bridge's own events ----------------------------------------------

class ConnectedEventTest : public EventsTest, public ::testing::WithParamInterface<codec::Dialect> {};

TEST_P(ConnectedEventTest, CarriesAddressAndProtocol) {
  TestDevice& device = Connect({.dialect = GetParam()});
  EventStream& stream = SubscribeTo(device);

  std::optional<DeviceEvent> event = stream.NextMatching(OfType("device-connected"), kEventTimeout);

  ASSERT_TRUE(event.has_value()) << Log();
  EXPECT_EQ(event->service(), "hive-backend");
  EXPECT_EQ(event->device_id(), device.device_id());
  EXPECT_EQ(event->account_id(), device.account_id());
  EXPECT_EQ(event->connected().address(), absl::StrCat("127.0.0.1:", device.local_port()));
  EXPECT_EQ(event->connected().protocol(), codec::SubprotocolOf(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Dialects, ConnectedEventTest,
                         ::testing::Values(codec::Dialect::kStandard, codec::Dialect::kCompact), DialectName);

class DisconnectedEventTest;

struct DisconnectCase {
  std::string name;
  // Ends the device's connection.
  std::function<void(DisconnectedEventTest&, TestDevice&)> end;
  int close_code;
  std::string reason;
};

class DisconnectedEventTest : public EventsTest, public ::testing::WithParamInterface<DisconnectCase> {
 public:
  // Connects the same device again.
  void Replace(const TestDevice& device) {
    Connect({.device_id = device.device_id(), .account_id = device.account_id()});
  }
};

TEST_P(DisconnectedEventTest, CarriesTheCloseCodeAndReason) {
  TestDevice& device = Connect();
  EventStream& stream = SubscribeTo(device);

  GetParam().end(*this, device);

  std::optional<DeviceEvent> event = stream.NextMatching(OfType("device-disconnected"), kEventTimeout);
  ASSERT_TRUE(event.has_value()) << Log();
  EXPECT_EQ(event->service(), "hive-backend");
  EXPECT_EQ(event->account_id(), device.account_id());
  EXPECT_EQ(event->disconnected().close_code(), GetParam().close_code) << event->ShortDebugString();
  EXPECT_THAT(event->disconnected().reason(), HasSubstr(GetParam().reason));
}

INSTANTIATE_TEST_SUITE_P(
    Endings, DisconnectedEventTest,
    ::testing::Values(DisconnectCase{"DeviceClosedNormally",
                                     [](DisconnectedEventTest&, TestDevice& d) { d.Close(1000, "bye"); }, 1000, "bye"},
                      DisconnectCase{"DeviceClosedWithItsOwnCode",
                                     [](DisconnectedEventTest&, TestDevice& d) { d.Close(4000, "firmware update"); },
                                     4000, "firmware update"},
                      DisconnectCase{"TcpDropped", [](DisconnectedEventTest&, TestDevice& d) { d.Abort(); }, 1006, ""},
                      DisconnectCase{"ReplacedByANewConnection",
                                     [](DisconnectedEventTest& test, TestDevice& d) { test.Replace(d); }, 4409,
                                     "replaced"}),
    RowName());

class AliveEventTest : public BridgeTest {
 protected:
  void SetUp() override { StartOwnBridge({"--ping-interval=500ms", "--pong-timeout=450ms"}); }
};

TEST_F(AliveEventTest, EveryPongIsADeviceAliveEventWithTheAddress) {
  TestDevice& device = Connect();
  SubscribeEventsRequest request;
  request.add_device_ids(device.device_id());
  request.add_types("device-alive");
  EventStream& stream = Subscribe(request);

  std::optional<DeviceEvent> first = stream.Next(kEventTimeout);
  std::optional<DeviceEvent> second = stream.Next(kEventTimeout);

  ASSERT_TRUE(first.has_value() && second.has_value()) << Log();
  EXPECT_EQ(first->service(), "hive-backend");
  EXPECT_EQ(first->account_id(), device.account_id());
  EXPECT_EQ(first->alive().address(), absl::StrCat("127.0.0.1:", device.local_port()));
  EXPECT_GT(second->sequence(), first->sequence());
  hive::bridge::v1::GetDeviceResponse got;
  ASSERT_TRUE(GetDevice(stub(), device.device_id(), &got).ok());
  EXPECT_TRUE(got.device().has_last_alive_at()) << got.ShortDebugString();
  EXPECT_TRUE(device.open()) << device.Transcript();
}

TEST_F(AliveEventTest, DeviceThatNeverAnswersAPingIsClosedWith4408) {
  TestDevice& device = Connect({.answer_pings = false});
  EventStream& stream = SubscribeTo(device);

  ASSERT_TRUE(device.WaitClosed(absl::Seconds(3))) << device.Transcript() << "\n" << Log();

  EXPECT_EQ(device.close_code(), 4408);
  EXPECT_THAT(device.close_reason(), HasSubstr("no pong"));
  std::optional<DeviceEvent> event = stream.NextMatching(OfType("device-disconnected"), kEventTimeout);
  ASSERT_TRUE(event.has_value()) << Log();
  EXPECT_EQ(event->disconnected().close_code(), 4408);
  EXPECT_FALSE(stream.NextMatching(OfType("device-alive"), absl::ZeroDuration()).has_value());
}

// --- Reserved types -------------------------------------------------------

class ReservedTypeTest : public EventsTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(ReservedTypeTest, FromADeviceGetsAnErrorReplyAndIsNotPublished) {
  TestDevice& device = Connect();
  EventStream& stream = SubscribeTo(device);

  device.Send(MarkedEvent(GetParam(), "reserved"));
  std::optional<std::string> error = device.NextOfType("error", kEventTimeout);
  device.Send(MarkedEvent("device-state", "after"));

  ASSERT_TRUE(error.has_value()) << device.Transcript();
  EXPECT_EQ(StringField(*error, "error"), absl::StrCat("type: \"", GetParam(), "\" is reserved for the bridge"));
  EXPECT_THAT(MarkersOf(NextMarked(stream, 1)), ElementsAreArray({"after"})) << Log();
  EXPECT_TRUE(device.open());
}

INSTANTIATE_TEST_SUITE_P(Types, ReservedTypeTest,
                         ::testing::Values("device-alive", "device-connected", "device-disconnected", "gap",
                                           "device-request", "authenticated", "error"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name;
                           for (char c : info.param) {
                             if (c != '-') name.push_back(c);
                           }
                           return name;
                         });

}  // namespace
}  // namespace hive::integration

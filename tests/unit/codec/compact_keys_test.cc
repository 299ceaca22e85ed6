#include "bridge/codec/compact_keys.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/struct.pb.h"
#include "gtest/gtest.h"
#include "hive/bridge/v1/commands.pb.h"
#include "hive/bridge/v1/events.pb.h"

namespace hive::codec {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using hive::bridge::v1::Command;
using hive::bridge::v1::DeviceEvent;
using hive::bridge::v1::DeviceRequest;

// The keys the envelopes (request, event, response, replies) spell by hand.
const std::vector<std::string> kEnvelopeKeys = {"account", "device",  "service", "type",   "request",
                                                "command", "payload", "state",   "status", "result",
                                                "error",   "cid",     "res"};

// Every message whose fields travel under their own names: the event bodies,
// the typed commands (the raw one is a Struct), the request's state, and
// every message reachable from them.
std::vector<const Descriptor*> WireMessages() {
  std::vector<const Descriptor*> pending;
  const auto* body = DeviceEvent::descriptor()->FindOneofByName("body");
  for (int i = 0; i < body->field_count(); ++i) pending.push_back(body->field(i)->message_type());
  const auto* kind = Command::descriptor()->FindOneofByName("kind");
  for (int i = 0; i < kind->field_count(); ++i) {
    if (kind->field(i)->number() != Command::kRawFieldNumber) pending.push_back(kind->field(i)->message_type());
  }
  pending.push_back(DeviceRequest::descriptor()->FindFieldByName("state")->message_type());
  std::vector<const Descriptor*> seen;
  while (!pending.empty()) {
    const Descriptor* type = pending.back();
    pending.pop_back();
    if (type == google::protobuf::Struct::descriptor() || std::find(seen.begin(), seen.end(), type) != seen.end()) {
      continue;
    }
    seen.push_back(type);
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor* field = type->field(i);
      if (field->message_type() == nullptr) continue;
      pending.push_back(field->is_map() ? field->message_type()->map_value()->message_type() : field->message_type());
      if (pending.back() == nullptr) pending.pop_back();  // a map of scalars
    }
  }
  return seen;
}

bool IsBookkeeping(const FieldDescriptor& field) {
  return field.name() == "extra" || field.name() == "exact_numbers" || field.name() == "action";
}

TEST(CompactKeyTable, HasACodeForEveryFieldThatTravelsByName) {
  const std::vector<const Descriptor*> messages = WireMessages();
  EXPECT_GE(messages.size(), 15u);  // 9 bodies, 4 commands, state, application, link, instance status
  for (const Descriptor* type : messages) {
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor& field = *type->field(i);
      if (IsBookkeeping(field)) continue;
      EXPECT_FALSE(StandardKey(CompactKey(field.name())).empty())
          << type->full_name() << "." << field.name() << " has no compact code";
    }
  }
}

TEST(CompactKeyTable, HasACodeForEveryEnvelopeKey) {
  for (const std::string& key : kEnvelopeKeys) {
    EXPECT_EQ(StandardKey(CompactKey(key)), key) << key;
  }
  EXPECT_EQ(CompactKey("type"), "typ");
  EXPECT_EQ(CompactKey("payload"), "dat");
  EXPECT_EQ(CompactKey("cid"), "cid");
  EXPECT_EQ(CompactKey("res"), "res");
}

TEST(CompactKeyTable, NamesNoFieldThatDoesNotExist) {
  std::set<std::string> known(kEnvelopeKeys.begin(), kEnvelopeKeys.end());
  for (const Descriptor* type : WireMessages()) {
    for (int i = 0; i < type->field_count(); ++i) known.insert(type->field(i)->name());
  }
  for (const auto& [standard, compact] : CompactKeyTable()) {
    EXPECT_TRUE(known.count(std::string(standard))) << standard << " is in the table but no schema key";
  }
}

TEST(CompactKeyTable, CodesAreUniqueLowercaseAndThreeLetters) {
  std::set<absl::string_view> codes;
  std::set<absl::string_view> keys;
  for (const auto& [standard, compact] : CompactKeyTable()) {
    EXPECT_TRUE(codes.insert(compact).second) << "code " << compact << " is used twice";
    EXPECT_TRUE(keys.insert(standard).second) << "key " << standard << " is listed twice";
    EXPECT_EQ(compact.size(), 3u) << compact;
    for (char c : compact) EXPECT_TRUE(absl::ascii_islower(static_cast<unsigned char>(c))) << compact;
  }
}

TEST(CompactKeyTable, NoCodeIsAnotherKeysStandardName) {
  for (const auto& [standard, compact] : CompactKeyTable()) {
    absl::string_view other = CompactKey(compact);
    EXPECT_TRUE(other == compact || compact == standard)
        << "code " << compact << " of " << standard << " is also the standard key of a field coded " << other;
  }
}

TEST(CompactKeyTable, TranslatesBothWays) {
  for (const auto& [standard, compact] : CompactKeyTable()) {
    EXPECT_EQ(CompactKey(standard), compact);
    EXPECT_EQ(StandardKey(compact), standard);
    EXPECT_EQ(WireKey(standard, Dialect::kCompact), compact);
    EXPECT_EQ(WireKey(standard, Dialect::kStandard), standard);
  }
  EXPECT_EQ(CompactKey("storage_apikeys"), "sak");
  EXPECT_EQ(StandardKey("sak"), "storage_apikeys");
}

TEST(CompactKeyTable, LeavesKeysItDoesNotKnowAlone) {
  EXPECT_EQ(CompactKey("uptime_s"), "uptime_s");
  EXPECT_EQ(CompactKey(""), "");
  EXPECT_EQ(StandardKey("zzz"), "");
  EXPECT_EQ(StandardKey("version"), "");  // a standard key is not a code
  EXPECT_EQ(WireKey("uptime_s", Dialect::kCompact), "uptime_s");
}

}  // namespace
}  // namespace hive::codec

// tests/unit/frozen_request_test.cc
#include "bridge/frozen_request.h"

#include <string>

#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace hive {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::util::MessageDifferencer;
using google::protobuf::util::TimeUtil;
using hive::bridge::v1::SendDeviceRequestResponse;

constexpr char kUuid[] = "c3d4e5f6-0718-4293-a4b5-c6d7e8f90a1b";

// Owns a packed request for the test's length.
struct Frozen {
  explicit Frozen(FrozenRequest* p) : request(p) {}
  ~Frozen() { FrozenRequest::Destroy(request); }
  FrozenRequest* operator->() const { return request; }
  FrozenRequest* request;
};

FrozenRequest::Facts FactsOf(absl::string_view request_id, const RequestOrigin& origin,
                             const SendDeviceRequestResponse& outcome) {
  FrozenRequest::Facts facts;
  facts.request_id = request_id;
  facts.origin = &origin;
  facts.digest = 0xfeedface12345678;
  facts.outcome = &outcome;
  facts.touched = absl::FromUnixNanos(1'765'000'000'123'456'789);
  return facts;
}

SendDeviceRequestResponse Restored(const Frozen& frozen) {
  SendDeviceRequestResponse outcome;
  frozen->RestoreOutcome(outcome);
  return outcome;
}

TEST(FrozenRequest, KeepsEveryFactAsItWasGiven) {
  const RequestOrigin origin{"6f1c2a7e-3b44-4c1e-9a55-0d2b8f0e7a11", "8813b625-e219-4390-9a7b-fe0e22c9e50b"};
  SendDeviceRequestResponse outcome;
  outcome.set_request_id(kUuid);
  outcome.set_status(hive::bridge::v1::REQUEST_STATUS_ACKED);
  *outcome.mutable_sent_at() = TimeUtil::NanosecondsToTimestamp(1'765'000'000'000'000'001);
  *outcome.mutable_ack_latency() = TimeUtil::NanosecondsToDuration(1'234'567);
  FrozenRequest::Facts facts = FactsOf(kUuid, origin, outcome);
  facts.source = 1;
  facts.watch = 2;
  facts.connection = 77;
  facts.sender = 5;
  facts.orphaned = true;
  facts.closed_how = "close code 1006";

  const Frozen frozen(FrozenRequest::Pack(facts));

  EXPECT_EQ(frozen->RequestId(), kUuid);
  EXPECT_EQ(frozen->origin(), &origin);
  EXPECT_EQ(frozen->digest(), 0xfeedface12345678u);
  EXPECT_EQ(frozen->source(), 1);
  EXPECT_EQ(frozen->watch(), 2);
  EXPECT_EQ(frozen->connection(), 77u);
  EXPECT_EQ(frozen->sender(), 0u) << "once written, only the connection matters";
  EXPECT_TRUE(frozen->orphaned());
  EXPECT_EQ(frozen->closed_how(), "close code 1006");
  EXPECT_EQ(frozen->status(), hive::bridge::v1::REQUEST_STATUS_ACKED);
  EXPECT_EQ(frozen->touched(), facts.touched);
  EXPECT_TRUE(MessageDifferencer::Equals(Restored(frozen), outcome)) << Restored(frozen).DebugString();
}

TEST(FrozenRequest, AnUnwrittenRequestKeepsItsSender) {
  const RequestOrigin origin{"d", ""};
  SendDeviceRequestResponse outcome;
  outcome.set_request_id("req-1");
  FrozenRequest::Facts facts = FactsOf("req-1", origin, outcome);
  facts.sender = 42;
  const Frozen frozen(FrozenRequest::Pack(facts));
  EXPECT_EQ(frozen->sender(), 42u);
  EXPECT_EQ(frozen->connection(), 0u);
  EXPECT_FALSE(frozen->orphaned());
  EXPECT_EQ(frozen->closed_how(), "");
  EXPECT_TRUE(MessageDifferencer::Equals(Restored(frozen), outcome)) << Restored(frozen).DebugString();
}

// Sets `field` of `message` to something other than its default.
void SetSomething(google::protobuf::Message& message, const FieldDescriptor* field) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  if (field->is_map()) {
    google::protobuf::Message* entry = reflection->AddMessage(&message, field);
    const google::protobuf::Descriptor* entry_type = entry->GetDescriptor();
    entry->GetReflection()->SetString(entry, entry_type->FindFieldByName("key"), "/a/0");
    entry->GetReflection()->SetString(entry, entry_type->FindFieldByName("value"), "12345678901234567890");
    return;
  }
  ASSERT_FALSE(field->is_repeated()) << field->full_name() << ": teach this test to set it";
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      reflection->SetString(&message, field, "something");
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      reflection->SetEnumValue(&message, field, 3);
      break;
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      google::protobuf::Message* sub = reflection->MutableMessage(&message, field);
      if (auto* object = dynamic_cast<google::protobuf::Struct*>(sub); object != nullptr) {
        (*object->mutable_fields())["temperature"].set_number_value(21.5);
        break;
      }
      const FieldDescriptor* first = sub->GetDescriptor()->field(0);
      ASSERT_EQ(first->cpp_type(), FieldDescriptor::CPPTYPE_INT64) << field->full_name() << ": teach this test";
      sub->GetReflection()->SetInt64(sub, first, 1'700'000'000);  // a Timestamp's or Duration's seconds
      break;
    }
    default:
      FAIL() << field->full_name() << ": teach this test to set a field of this type";
  }
}

// A field added to SendDeviceRequestResponse must survive freezing: each is
// set alone, by reflection, and must come back.
TEST(FrozenRequest, EveryFieldOfTheOutcomeComesBack) {
  const RequestOrigin origin{"d", "a"};
  const google::protobuf::Descriptor* descriptor = SendDeviceRequestResponse::descriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (field->name() == "request_id") continue;  // the facts' own (KeepsEveryFact...)
    SendDeviceRequestResponse outcome;
    outcome.set_request_id(kUuid);
    SetSomething(outcome, field);
    const Frozen frozen(FrozenRequest::Pack(FactsOf(kUuid, origin, outcome)));
    EXPECT_TRUE(MessageDifferencer::Equals(Restored(frozen), outcome))
        << field->name() << " was lost: " << Restored(frozen).DebugString();
  }
}

TEST(FrozenRequest, ACanonicalUuidTakesSixteenBytesAndAnyOtherIdIsKeptAsItIs) {
  const RequestOrigin origin{"d", "a"};
  SendDeviceRequestResponse outcome;
  const Frozen uuid(FrozenRequest::Pack(FactsOf(kUuid, origin, outcome)));
  const std::string upper = "C3D4E5F6-0718-4293-A4B5-C6D7E8F90A1B";
  const Frozen uppercase(FrozenRequest::Pack(FactsOf(upper, origin, outcome)));
  const std::string hyphen_moved = "c3d4e5f60-718-4293-a4b5-c6d7e8f90a1b";
  const Frozen not_uuid(FrozenRequest::Pack(FactsOf(hyphen_moved, origin, outcome)));

  EXPECT_EQ(uuid->bytes() + 21, uppercase->bytes()) << "16 bytes instead of 36 and its length";
  EXPECT_EQ(uuid->RequestId(), kUuid);
  EXPECT_EQ(uppercase->RequestId(), upper) << "spelt out again, it must be the same id";
  EXPECT_EQ(not_uuid->RequestId(), hyphen_moved);
  // What issue #18's budget is about: a round trip's request.
  EXPECT_LE(uuid->bytes(), 100u);
}

TEST(FrozenRequest, TheIndexFindsItByItsIdHoweverItIsKept) {
  const RequestOrigin origin{"d", "a"};
  SendDeviceRequestResponse outcome;
  FrozenRequests index;
  FrozenRequest* uuid = FrozenRequest::Pack(FactsOf(kUuid, origin, outcome));
  FrozenRequest* other = FrozenRequest::Pack(FactsOf("job-7:device-3", origin, outcome));
  index.insert(uuid);
  index.insert(other);

  EXPECT_EQ(*index.find(absl::string_view(kUuid)), uuid);
  EXPECT_EQ(*index.find(absl::string_view("job-7:device-3")), other);
  EXPECT_EQ(index.find(absl::string_view("C3D4E5F6-0718-4293-A4B5-C6D7E8F90A1B")), index.end());
  index.erase(uuid);
  EXPECT_EQ(index.find(absl::string_view(kUuid)), index.end());
  FrozenRequest::Destroy(uuid);
  FrozenRequest::Destroy(other);
}

TEST(FrozenRequest, AnEmptyIdAndNothingElseStillFitsItsAllocation) {
  const RequestOrigin origin{"d", ""};
  SendDeviceRequestResponse outcome;
  const Frozen frozen(FrozenRequest::Pack(FactsOf("", origin, outcome)));
  EXPECT_EQ(frozen->RequestId(), "");
  EXPECT_EQ(frozen->closed_how(), "");
  EXPECT_TRUE(MessageDifferencer::Equals(Restored(frozen), outcome)) << Restored(frozen).DebugString();
}

TEST(FrozenRequest, ALongCloseReasonIsCutToTheLimit) {
  const RequestOrigin origin{"d", "a"};
  SendDeviceRequestResponse outcome;
  const std::string how(FrozenRequest::kMaxTextBytes + 10, 'r');
  FrozenRequest::Facts facts = FactsOf(kUuid, origin, outcome);
  facts.closed_how = how;
  const Frozen frozen(FrozenRequest::Pack(facts));
  EXPECT_EQ(frozen->closed_how().size(), FrozenRequest::kMaxTextBytes);
}

}  // namespace
}  // namespace hive
